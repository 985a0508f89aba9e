#include "engine/passes.h"

#include "engine/channel_shuffle_pass.h"
#include "engine/gelu_pass.h"
#include "engine/layer_norm_pass.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/conv.h"
#include "engine/ops/identity.h"
#include "engine/ops/pool.h"
#include "engine/ops/quantize.h"
#include "engine/ops/quantized_conv.h"

namespace fovea::engine {
namespace {

bool IsGraphOutput(const Graph& graph, const std::string& value) {
  for (const auto& out : graph.outputs) {
    if (out.name == value) return true;
  }
  return false;
}

void RenameUses(Graph& graph, const std::string& from, const std::string& to) {
  for (auto& node : graph.nodes) {
    for (auto& in : node.inputs) {
      if (in == from) in = to;
    }
  }
}

// The single node reading `value`, or -1 when it has no reader, several, or is a graph output.
int SoleConsumer(const Graph& graph, const std::string& value) {
  if (graph.UseCount(value) != 1 || IsGraphOutput(graph, value)) return -1;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const auto& in : graph.nodes[i].inputs) {
      if (in == value) return static_cast<int>(i);
    }
  }
  return -1;
}

const Tensor* Initializer(const Graph& graph, const std::vector<std::string>& inputs, size_t i) {
  if (i >= inputs.size() || inputs[i].empty()) return nullptr;
  auto it = graph.initializers.find(inputs[i]);
  return it == graph.initializers.end() ? nullptr : &it->second;
}

// The constants among `node`'s inputs from `first` on, in order (a Tensor without data for an absent optional input);
// nullopt when any present one is computed at run time.
std::optional<std::vector<Tensor>> ConstantInputs(const Graph& graph, const Node& node, size_t first) {
  std::vector<Tensor> constants;
  for (size_t i = first; i < node.inputs.size(); ++i) {
    if (node.inputs[i].empty()) {
      constants.emplace_back();
      continue;
    }
    const Tensor* t = Initializer(graph, node.inputs, i);
    if (t == nullptr) return std::nullopt;
    constants.push_back(*t);
  }
  return constants;
}

// Folds node `index`, when it is a per-channel affine (BatchNormalization) whose input comes from an op that can absorb
// it into its weights (Conv), into that op; returns whether it did.
StatusOr<bool> TryFoldChannelAffine(Graph& graph, size_t index) {
  const Node& node = graph.nodes[index];
  if (node.inputs.empty() || node.outputs.size() != 1) return false;
  const auto parameters = ConstantInputs(graph, node, 1);
  if (!parameters) return false;
  const auto affine = node.op->AsChannelAffine(*parameters);
  if (!affine) return false;
  const int producer_index = graph.ProducerOf(node.inputs[0]);
  if (producer_index < 0 || SoleConsumer(graph, node.inputs[0]) != static_cast<int>(index)) return false;
  Node& producer = graph.nodes[static_cast<size_t>(producer_index)];
  const auto producer_parameters = ConstantInputs(graph, producer, 1);
  if (!producer_parameters) return false;
  const auto folded = producer.op->AbsorbOutputAffine(*producer_parameters, *affine);
  if (!folded) return false;
  std::vector<std::string> inputs = {producer.inputs[0]};
  for (size_t i = 0; i < folded->size(); ++i) {
    const std::string name = producer.name + "/folded_" + std::to_string(i + 1);
    graph.initializers[name] = (*folded)[i];
    inputs.push_back(name);
  }
  producer.inputs = std::move(inputs);
  producer.outputs = node.outputs;
  graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(index));
  return true;
}

// Appends to node `index` the node that solely consumes its output, when that one is an activation the producer can
// run as a post-op, or an Add whose other operand is already computed (a residual sum); returns whether it did.
StatusOr<bool> TryFuseNext(Graph& graph, size_t index) {
  Node& producer = graph.nodes[index];
  if (producer.outputs.size() != 1) return false;
  const int next_index = SoleConsumer(graph, producer.outputs[0]);
  if (next_index < 0) return false;
  const Node& next = graph.nodes[static_cast<size_t>(next_index)];
  if (next.inputs.empty() || next.inputs[0] != producer.outputs[0]) {
    // Only an Add is symmetric; any other op must read the producer's output as its first input.
    if (!next.op->IsResidualSum()) return false;
  }
  std::vector<std::string> inputs = producer.inputs;
  std::shared_ptr<const Op> fused;
  if (next.op->IsResidualSum()) {
    if (next.inputs.size() != 2) return false;
    const std::string& other = next.inputs[0] == producer.outputs[0] ? next.inputs[1] : next.inputs[0];
    // A constant operand is a broadcast bias, not a residual; and the residual must exist before the producer runs.
    if (graph.initializers.contains(other) || graph.ProducerOf(other) >= static_cast<int>(index)) return false;
    fused = producer.op->WithPostOp(PostOp::Sum());
    // The sum operand follows the producer's own inputs (weights and an optional bias, absent or not).
    inputs.resize(std::max<size_t>(inputs.size(), 3));
    inputs.push_back(other);
  } else {
    const auto parameters = ConstantInputs(graph, next, 1);
    if (!parameters) return false;
    const auto activation = next.op->FusedActivation(*parameters);
    if (!activation) return false;
    fused = producer.op->WithPostOp(PostOp::Act(*activation));
  }
  if (fused == nullptr) return false;
  producer.op = std::move(fused);
  producer.inputs = std::move(inputs);
  producer.outputs = next.outputs;
  graph.nodes.erase(graph.nodes.begin() + next_index);
  return true;
}

// What a QuantizeLinear/DequantizeLinear node does, when it is one and its scale and zero point are initializers.
struct QdqNode {
  bool quantize = false;  // QuantizeLinear (else DequantizeLinear)
  ops::QuantizationSlices slices;
};

std::optional<QdqNode> MatchQdq(const Graph& graph, int index) {
  if (index < 0) return std::nullopt;
  const Node& node = graph.nodes[static_cast<size_t>(index)];
  const std::optional<QuantizationStep> step = node.op->AsQuantizationStep();
  if (!step || node.outputs.size() != 1) return std::nullopt;
  const Tensor* scale = Initializer(graph, node.inputs, 1);
  const Tensor* zero_point = Initializer(graph, node.inputs, 2);
  const bool has_zero_point = node.inputs.size() > 2 && !node.inputs[2].empty();
  if (scale == nullptr || (has_zero_point && zero_point == nullptr)) return std::nullopt;
  // Per-axis scales only occur on constant weights here, whose shape the initializer gives.
  const Tensor* x = Initializer(graph, node.inputs, 0);
  auto slices = ops::ResolveQuantization(x ? x->shape() : Shape{}, *scale, zero_point, step->axis);
  if (!slices.ok() || !slices->zero_points_are_zero()) return std::nullopt;
  return QdqNode{step->quantize, *slices};
}

// Removes nodes none of whose outputs is read (the QuantizeLinear/DequantizeLinear nodes a fusion bypassed).
void RemoveDeadNodes(Graph& graph) {
  for (int i = static_cast<int>(graph.nodes.size()) - 1; i >= 0; --i) {
    const Node& node = graph.nodes[static_cast<size_t>(i)];
    const bool dead = std::all_of(node.outputs.begin(), node.outputs.end(), [&](const std::string& out) {
      return out.empty() || (graph.UseCount(out) == 0 && !IsGraphOutput(graph, out));
    });
    if (dead) graph.nodes.erase(graph.nodes.begin() + i);
  }
}

// Fuses Conv node `conv_index` with the DequantizeLinear nodes feeding it and the QuantizeLinear reading it; returns
// whether it did.
StatusOr<bool> TryFuseQuantizedConv(Graph& graph, size_t conv_index) {
  const Node& conv = graph.nodes[conv_index];
  if (!conv.op->Quantizable() || conv.inputs.size() < 2 || conv.outputs.size() != 1) return false;
  const int x_index = graph.ProducerOf(conv.inputs[0]);
  const int w_index = graph.ProducerOf(conv.inputs[1]);
  const auto x_dq = MatchQdq(graph, x_index);
  const auto w_dq = MatchQdq(graph, w_index);
  if (!x_dq || x_dq->quantize || !x_dq->slices.per_tensor() || !w_dq || w_dq->quantize) return false;
  // Without a zero point the input's type (uint8 or int8) is only known at run time; the fused kernel needs it now.
  const auto& x_inputs = graph.nodes[static_cast<size_t>(x_index)].inputs;
  if (x_inputs.size() < 3 || x_inputs[2].empty()) return false;
  const Node& w_node = graph.nodes[static_cast<size_t>(w_index)];
  const Tensor* w = Initializer(graph, w_node.inputs, 0);
  if (w == nullptr || w->dtype() != DataType::kInt8 || (!w_dq->slices.per_tensor() && w_dq->slices.axis != 0)) {
    return false;
  }
  const bool has_bias = conv.inputs.size() > 2 && !conv.inputs[2].empty();
  if (has_bias && Initializer(graph, conv.inputs, 2) == nullptr) return false;

  QuantizedOperands params;
  params.input_type = x_dq->slices.quantized_type;
  params.input_scale = x_dq->slices.scales[0];
  params.weight_scales = w_dq->slices.scales;
  std::vector<std::string> outputs = conv.outputs;
  const int q_index = SoleConsumer(graph, conv.outputs[0]);
  const auto y_q = MatchQdq(graph, q_index);
  if (y_q && y_q->quantize && y_q->slices.per_tensor()) {
    params.quantized_output = true;
    params.output_type = y_q->slices.quantized_type;
    params.output_scale = y_q->slices.scales[0];
    outputs = graph.nodes[static_cast<size_t>(q_index)].outputs;
  }
  FOVEA_ASSIGN_OR_RETURN(std::shared_ptr<const Op> fused, conv.op->Quantized(params));
  if (fused == nullptr) return false;
  Node& target = graph.nodes[conv_index];
  target.inputs = {graph.nodes[static_cast<size_t>(x_index)].inputs[0], w_node.inputs[0],
                   has_bias ? conv.inputs[2] : std::string()};
  target.op = std::move(fused);
  target.outputs = std::move(outputs);
  if (params.quantized_output) graph.nodes.erase(graph.nodes.begin() + q_index);
  return true;
}

}  // namespace

StatusOr<Graph> CancelRequantize(Graph graph) {
  bool any = false;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto q = MatchQdq(graph, static_cast<int>(i));
    if (!q || !q->quantize || IsGraphOutput(graph, graph.nodes[i].outputs[0])) continue;
    const int dq_index = graph.ProducerOf(graph.nodes[i].inputs[0]);
    const auto dq = MatchQdq(graph, dq_index);
    if (!dq || dq->quantize || dq->slices.scales != q->slices.scales ||
        dq->slices.quantized_type != q->slices.quantized_type || !q->slices.per_tensor()) {
      continue;
    }
    RenameUses(graph, graph.nodes[i].outputs[0], graph.nodes[static_cast<size_t>(dq_index)].inputs[0]);
    any = true;
  }
  if (any) RemoveDeadNodes(graph);
  return graph;
}

StatusOr<Graph> MoveQuantizeBeforeMaxPool(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto q = MatchQdq(graph, static_cast<int>(i));
    if (!q || !q->quantize || !q->slices.per_tensor()) continue;
    const int pool_index = graph.ProducerOf(graph.nodes[i].inputs[0]);
    if (pool_index < 0 || SoleConsumer(graph, graph.nodes[i].inputs[0]) != static_cast<int>(i)) continue;
    Node& pool = graph.nodes[static_cast<size_t>(pool_index)];
    if (!pool.op->CommutesWithQuantization() || pool.outputs.size() != 1) continue;
    // Q now reads the pool's input and the pool reads Q's result; they swap places so the order stays topological.
    Node quantize = graph.nodes[i];
    Node pooled = pool;
    const std::string quantized = pool.inputs[0] + "/quantized";
    quantize.inputs[0] = pool.inputs[0];
    quantize.outputs = {quantized};
    pooled.inputs[0] = quantized;
    pooled.outputs = graph.nodes[i].outputs;
    graph.nodes[static_cast<size_t>(pool_index)] = std::move(quantize);
    graph.nodes[i] = std::move(pooled);
  }
  return graph;
}

StatusOr<Graph> DequantizeGraph(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& node = graph.nodes[i];
    const bool qdq = node.op->AsQuantizationStep().has_value();
    if (qdq && !graph.initializers.contains(node.inputs[0]) && !IsGraphOutput(graph, node.outputs[0])) {
      RenameUses(graph, node.outputs[0], node.inputs[0]);
      continue;  // now unread; removed below
    }
    const std::optional<FloatForm> float_form = node.op->Dequantized();
    const Tensor* w = float_form ? Initializer(graph, node.inputs, 1) : nullptr;
    if (w == nullptr) continue;
    ops::QuantizationSlices slices;
    slices.scales = float_form->weight_scales;
    slices.zero_points.assign(slices.scales.size(), 0);
    slices.quantized_type = DataType::kInt8;
    slices.inner = slices.per_tensor() ? 1 : w->num_elements() / w->dim(0);
    const std::string w_name = node.name + "/dequantized_weight";
    graph.initializers[w_name] = ops::DequantizeTensor(*w, slices);
    node.op = float_form->op;
    node.inputs[1] = w_name;
  }
  RemoveDeadNodes(graph);
  return graph;
}

StatusOr<Graph> FuseQuantizedConvs(Graph graph) {
  bool any = false;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    FOVEA_ASSIGN_OR_RETURN(bool fused, TryFuseQuantizedConv(graph, i));
    any = any || fused;
  }
  if (any) RemoveDeadNodes(graph);
  return graph;
}

StatusOr<Graph> RemoveNoOps(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size();) {
    const Node& node = graph.nodes[i];
    const bool no_op = node.op->IsIdentity() && !node.inputs.empty() && !node.outputs.empty() &&
                       !IsGraphOutput(graph, node.outputs[0]) &&
                       (node.outputs.size() == 1 || graph.UseCount(node.outputs[1]) == 0);
    if (!no_op) {
      ++i;
      continue;
    }
    const std::string from = node.outputs[0], to = node.inputs[0];
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    RenameUses(graph, from, to);
  }
  return graph;
}

StatusOr<Graph> FoldBatchNorm(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    FOVEA_ASSIGN_OR_RETURN(bool folded, TryFoldChannelAffine(graph, i));
    if (folded) --i;  // the BN node is gone; the next node moved into its slot
  }
  return graph;
}

StatusOr<Graph> FusePostOps(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    bool fused = true;
    while (fused) {
      FOVEA_ASSIGN_OR_RETURN(fused, TryFuseNext(graph, i));
    }
  }
  return graph;
}

StatusOr<Graph> OptimizeForInference(Graph graph) {
  FOVEA_ASSIGN_OR_RETURN(graph, RemoveNoOps(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, FuseLayerNormPattern(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, FuseGeluPattern(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, FuseChannelShuffle(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, FoldBatchNorm(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, FusePostOps(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, CancelRequantize(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, MoveQuantizeBeforeMaxPool(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, CancelRequantize(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, FuseQuantizedConvs(std::move(graph)));
  return graph;
}

}  // namespace fovea::engine
