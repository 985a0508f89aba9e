#include "engine/passes.h"

#include <cmath>

#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/conv.h"
#include "engine/ops/identity.h"

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

// Folds BN node `bn_index` into the Conv producing its input, when that is possible; returns whether it did.
StatusOr<bool> TryFoldBatchNorm(Graph& graph, size_t bn_index) {
  const Node& bn = graph.nodes[bn_index];
  const auto* bn_op = dynamic_cast<const ops::BatchNorm*>(bn.op.get());
  if (bn_op == nullptr || bn.inputs.size() < 5 || bn.outputs.size() != 1) return false;
  const int conv_index = graph.ProducerOf(bn.inputs[0]);
  if (conv_index < 0 || SoleConsumer(graph, bn.inputs[0]) != static_cast<int>(bn_index)) return false;
  Node& conv = graph.nodes[static_cast<size_t>(conv_index)];
  const auto* conv_op = dynamic_cast<const ops::Conv*>(conv.op.get());
  if (conv_op == nullptr || !conv_op->params().post_ops.empty()) return false;
  const Tensor* w = Initializer(graph, conv.inputs, 1);
  const Tensor* b = Initializer(graph, conv.inputs, 2);
  const bool has_bias = conv.inputs.size() > 2 && !conv.inputs[2].empty();
  const Tensor* gamma = Initializer(graph, bn.inputs, 1);
  const Tensor* beta = Initializer(graph, bn.inputs, 2);
  const Tensor* mean = Initializer(graph, bn.inputs, 3);
  const Tensor* var = Initializer(graph, bn.inputs, 4);
  if (!w || (has_bias && !b) || !gamma || !beta || !mean || !var || w->rank() < 1) return false;
  const int64_t m = w->dim(0);
  for (const Tensor* t : {gamma, beta, mean, var}) {
    if (t->num_elements() != m || t->dtype() != DataType::kFloat32) return false;
  }
  Tensor folded_w = w->Clone();
  Tensor folded_b(DataType::kFloat32, {m});
  const int64_t per_channel = w->num_elements() / m;
  for (int64_t c = 0; c < m; ++c) {
    const double s =
        gamma->data<float>()[c] / std::sqrt(static_cast<double>(var->data<float>()[c]) + bn_op->params().epsilon);
    for (int64_t k = 0; k < per_channel; ++k) folded_w.data<float>()[c * per_channel + k] *= static_cast<float>(s);
    const double bias = has_bias ? b->data<float>()[c] : 0.0;
    folded_b.data<float>()[c] = static_cast<float>((bias - mean->data<float>()[c]) * s + beta->data<float>()[c]);
  }
  const std::string w_name = conv.name + "/bn_folded_weight";
  const std::string b_name = conv.name + "/bn_folded_bias";
  graph.initializers[w_name] = folded_w;
  graph.initializers[b_name] = folded_b;
  conv.inputs = {conv.inputs[0], w_name, b_name};
  conv.outputs = bn.outputs;
  graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(bn_index));
  return true;
}

// Appends to Conv node `conv_index` the node that solely consumes its output, when it is an activation or an Add
// whose other operand is already computed; returns whether it did.
StatusOr<bool> TryFuseNext(Graph& graph, size_t conv_index) {
  Node& conv = graph.nodes[conv_index];
  const auto* conv_op = dynamic_cast<const ops::Conv*>(conv.op.get());
  if (conv_op == nullptr || conv.outputs.size() != 1) return false;
  const int next_index = SoleConsumer(graph, conv.outputs[0]);
  if (next_index < 0) return false;
  const Node& next = graph.nodes[static_cast<size_t>(next_index)];
  ops::ConvParams params = conv_op->params();
  std::vector<std::string> inputs = conv.inputs;
  if (const auto* act = dynamic_cast<const ops::Activation*>(next.op.get())) {
    std::vector<Tensor> bounds;
    for (size_t i = 1; i < next.inputs.size(); ++i) {
      if (next.inputs[i].empty()) {
        bounds.emplace_back();
        continue;
      }
      const Tensor* bound = Initializer(graph, next.inputs, i);
      if (bound == nullptr) return false;
      bounds.push_back(*bound);
    }
    FOVEA_ASSIGN_OR_RETURN(auto resolved, act->Resolve(bounds));
    params.post_ops.push_back(ops::ConvPostOp::Act(resolved));
  } else if (const auto* add = dynamic_cast<const ops::Binary*>(next.op.get())) {
    if (add->params().kind != ops::BinaryParams::Kind::kAdd || conv_op->has_sum() || next.inputs.size() != 2) {
      return false;
    }
    const std::string& other = next.inputs[0] == conv.outputs[0] ? next.inputs[1] : next.inputs[0];
    // A constant operand is a broadcast bias, not a residual; and the residual must exist before the Conv runs.
    if (graph.initializers.contains(other) || graph.ProducerOf(other) >= static_cast<int>(conv_index)) return false;
    params.post_ops.push_back(ops::ConvPostOp::Sum());
    inputs.resize(3);
    inputs.push_back(other);
  } else {
    return false;
  }
  FOVEA_ASSIGN_OR_RETURN(auto fused, ops::Conv::Create(params));
  conv.op = std::move(fused);
  conv.inputs = std::move(inputs);
  conv.outputs = next.outputs;
  graph.nodes.erase(graph.nodes.begin() + next_index);
  return true;
}

}  // namespace

StatusOr<Graph> RemoveNoOps(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size();) {
    const Node& node = graph.nodes[i];
    const bool no_op = dynamic_cast<const ops::Identity*>(node.op.get()) != nullptr && !node.inputs.empty() &&
                       !node.outputs.empty() && !IsGraphOutput(graph, node.outputs[0]) &&
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
    FOVEA_ASSIGN_OR_RETURN(bool folded, TryFoldBatchNorm(graph, i));
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
  FOVEA_ASSIGN_OR_RETURN(graph, FoldBatchNorm(std::move(graph)));
  FOVEA_ASSIGN_OR_RETURN(graph, FusePostOps(std::move(graph)));
  return graph;
}

}  // namespace fovea::engine
