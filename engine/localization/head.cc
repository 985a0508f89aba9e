#include "engine/localization/head.h"

#include <algorithm>

#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gemm.h"
#include "engine/ops/identity.h"
#include "engine/ops/pool.h"
#include "engine/ops/reshape.h"
#include "engine/ops/softmax.h"
#include "engine/ops/squeeze.h"

namespace fovea::engine::localization {
namespace {

// The nodes reading `value` as an input.
std::vector<int> ConsumersOf(const Graph& graph, const std::string& value) {
  std::vector<int> consumers;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto& inputs = graph.nodes[i].inputs;
    if (std::find(inputs.begin(), inputs.end(), value) != inputs.end()) consumers.push_back(static_cast<int>(i));
  }
  return consumers;
}

// The stride of one trunk node along the path to the feature map (1 for nodes that keep resolution).
StatusOr<int64_t> NodeStride(const Node& node) {
  const ops::WindowAttributes* window = nullptr;
  if (const auto* conv = dynamic_cast<const ops::Conv*>(node.op.get())) window = &conv->params().window;
  if (const auto* pool = dynamic_cast<const ops::Pool*>(node.op.get()); pool && !pool->params().global) {
    window = &pool->params().window;
  }
  if (window == nullptr || window->strides.empty()) return int64_t{1};
  if (window->strides.size() != 2 || window->strides[0] != window->strides[1]) {
    return FailedPrecondition("node '" + node.name + "' has different strides per axis; localization needs the same");
  }
  return window->strides[0];
}

StatusOr<int64_t> NaturalStride(const Graph& graph, const std::string& input, const std::string& feature) {
  int64_t stride = 1;
  std::string value = feature;
  while (value != input) {
    const int producer = graph.ProducerOf(value);
    if (producer < 0) return FailedPrecondition("value '" + value + "' is not computed from the image input");
    const Node& node = graph.nodes[static_cast<size_t>(producer)];
    FOVEA_ASSIGN_OR_RETURN(const int64_t node_stride, NodeStride(node));
    stride *= node_stride;
    value = node.inputs.at(0);
  }
  return stride;
}

int LastConv(const Graph& graph) {
  for (int i = static_cast<int>(graph.nodes.size()) - 1; i >= 0; --i) {
    if (dynamic_cast<const ops::Conv*>(graph.nodes[static_cast<size_t>(i)].op.get()) != nullptr) return i;
  }
  return -1;
}

const Tensor* FindInitializer(const Graph& graph, const Node& node, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return nullptr;
  const auto found = graph.initializers.find(node.inputs[input]);
  return found == graph.initializers.end() ? nullptr : &found->second;
}

}  // namespace

Tensor GemmClassWeights(const Tensor& b, bool trans_b, float alpha) {
  const int64_t rows = trans_b ? b.dim(0) : b.dim(1);
  const int64_t cols = trans_b ? b.dim(1) : b.dim(0);
  Tensor weights(DataType::kFloat32, {rows, cols});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float v = trans_b ? b.data<float>()[r * cols + c] : b.data<float>()[c * rows + r];
      weights.data<float>()[r * cols + c] = alpha * v;
    }
  }
  return weights;
}

StatusOr<std::vector<int>> NodeChain(const Graph& graph, const std::string& from, const std::string& to) {
  std::vector<int> chain;
  std::string value = from;
  while (value != to) {
    const std::vector<int> consumers = ConsumersOf(graph, value);
    if (consumers.size() != 1 || graph.UseCount(value) != 1) {
      return FailedPrecondition("value '" + value + "' feeds " + std::to_string(graph.UseCount(value)) +
                                " readers; localization needs a single chain of nodes from '" + from + "' to '" + to +
                                "'");
    }
    chain.push_back(consumers[0]);
    value = graph.nodes[static_cast<size_t>(consumers[0])].outputs.at(0);
  }
  return chain;
}

bool IsReshapeLike(const Op& op) {
  return dynamic_cast<const ops::Flatten*>(&op) != nullptr || dynamic_cast<const ops::Reshape*>(&op) != nullptr ||
         dynamic_cast<const ops::Squeeze*>(&op) != nullptr || dynamic_cast<const ops::Identity*>(&op) != nullptr;
}

StatusOr<ClassifierHead> AnalyzeHead(const Graph& graph) {
  if (graph.inputs.size() != 1 || graph.outputs.empty()) {
    return FailedPrecondition("localization needs a model with one image input and a class output");
  }
  ClassifierHead head;
  head.input = graph.inputs[0].name;
  head.output = graph.outputs[0].name;
  head.feature_node = LastConv(graph);
  if (head.feature_node < 0) return FailedPrecondition("the model has no convolution, so there is no feature map");
  head.feature = graph.nodes[static_cast<size_t>(head.feature_node)].outputs.at(0);
  const int producer = graph.ProducerOf(head.output);
  const Node* last = producer < 0 ? nullptr : &graph.nodes[static_cast<size_t>(producer)];
  const auto* softmax = last == nullptr ? nullptr : dynamic_cast<const ops::Softmax*>(last->op.get());
  head.ends_in_softmax = softmax != nullptr && !softmax->params().log;
  head.logits = head.ends_in_softmax ? last->inputs.at(0) : head.output;
  FOVEA_ASSIGN_OR_RETURN(head.chain, NodeChain(graph, head.feature, head.logits));
  FOVEA_ASSIGN_OR_RETURN(head.natural_stride, NaturalStride(graph, head.input, head.feature));
  return head;
}

Graph WithOutputs(Graph graph, const std::vector<std::string>& values) {
  for (const std::string& value : values) {
    const bool present = std::any_of(graph.outputs.begin(), graph.outputs.end(),
                                     [&](const ValueInfo& out) { return out.name == value; });
    if (!present) graph.outputs.push_back({value, DataType::kFloat32, {}});
  }
  return graph;
}

StatusOr<LinearHead> GapLinearHead(const Graph& graph, const ClassifierHead& head) {
  const std::string kNeeded = "CAM needs a head of GlobalAveragePool followed by one Gemm";
  if (head.chain.empty()) return FailedPrecondition(kNeeded + "; the model ends at its last convolution");
  const Node& first = graph.nodes[static_cast<size_t>(head.chain.front())];
  const auto* pool = dynamic_cast<const ops::Pool*>(first.op.get());
  if (pool == nullptr || !pool->params().global || pool->params().kind != ops::PoolParams::Kind::kAverage) {
    return FailedPrecondition(kNeeded + "; the last convolution feeds " + std::string(first.op->type()) + " node '" +
                              first.name + "'");
  }
  for (size_t i = 1; i < head.chain.size(); ++i) {
    const Node& node = graph.nodes[static_cast<size_t>(head.chain[i])];
    if (IsReshapeLike(*node.op)) continue;
    const auto* gemm = dynamic_cast<const ops::Gemm*>(node.op.get());
    const Tensor* b = FindInitializer(graph, node, 1);
    if (gemm == nullptr || b == nullptr || gemm->params().trans_a || i + 1 != head.chain.size()) {
      return FailedPrecondition(kNeeded + " with constant weights ending the model; found " +
                                std::string(node.op->type()) + " node '" + node.name + "'");
    }
    LinearHead linear;
    linear.weights = GemmClassWeights(*b, gemm->params().trans_b, gemm->params().alpha);
    const int64_t classes = linear.weights.dim(0);
    linear.bias = Tensor(DataType::kFloat32, {classes});
    if (const Tensor* c = FindInitializer(graph, node, 2)) {
      if (c->num_elements() != classes && c->num_elements() != 1) {
        return FailedPrecondition("Gemm node '" + node.name + "' has a bias of shape " + ShapeToString(c->shape()));
      }
      for (int64_t k = 0; k < classes; ++k) {
        linear.bias.data<float>()[k] = gemm->params().beta * c->data<float>()[c->num_elements() == 1 ? 0 : k];
      }
    }
    return linear;
  }
  return FailedPrecondition(kNeeded + "; no Gemm follows the pooling");
}

}  // namespace fovea::engine::localization
