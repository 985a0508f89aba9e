#include "engine/localization/head.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>

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

// The stride of one trunk node along the path to the feature map, as the op states its geometry. An op that cannot
// say (or that upsamples, or collapses the grid) makes the model's heatmaps unmappable, which is an error, not 1.
StatusOr<int64_t> NodeStride(const Graph& graph, const Node& node) {
  std::vector<Shape> shapes;
  for (const auto& input : node.inputs) {
    const auto found = graph.initializers.find(input);
    shapes.push_back(found == graph.initializers.end() ? Shape{} : found->second.shape());
  }
  auto geometry = node.op->Geometry(shapes);
  if (!geometry.ok()) {
    return FailedPrecondition("node '" + node.name + "' on the way to the feature map: " + geometry.status().message());
  }
  if (geometry->global || geometry->upsample != std::array<int64_t, 2>{1, 1}) {
    return FailedPrecondition("node '" + node.name + "' (" + std::string(node.op->type()) +
                              ") changes the pixel grid in a way a stride cannot describe");
  }
  if (geometry->stride[0] != geometry->stride[1]) {
    return FailedPrecondition("node '" + node.name + "' has different strides per axis; localization needs the same");
  }
  return geometry->stride[0];
}

// The values that are still a pixel grid: the image and every value computed from one by nodes that do not collapse
// the grid (global pooling, Flatten, a classifier say so through Geometry). An op that cannot describe its geometry
// (a Transpose, a MatMul inside a block) keeps its inputs' grid, so only a declared collapse ends it.
std::set<std::string> SpatialValues(const Graph& graph, const std::string& input) {
  std::set<std::string> spatial = {input};
  for (const Node& node : graph.nodes) {
    const bool reads_grid = std::any_of(node.inputs.begin(), node.inputs.end(),
                                        [&](const std::string& value) { return spatial.count(value) > 0; });
    if (!reads_grid) continue;
    std::vector<Shape> shapes;
    for (const auto& value : node.inputs) {
      const auto found = graph.initializers.find(value);
      shapes.push_back(found == graph.initializers.end() ? Shape{} : found->second.shape());
    }
    const auto geometry = node.op->Geometry(shapes);
    if (geometry.ok() && geometry->global) continue;
    for (const auto& value : node.outputs) {
      if (!value.empty()) spatial.insert(value);
    }
  }
  return spatial;
}

// The product of the strides from the image to `feature`, along the pixel-grid inputs (a squeeze-excitation Mul reads
// its per-channel scale first; the stride runs through its other operand).
StatusOr<int64_t> NaturalStride(const Graph& graph, const std::string& input, const std::string& feature,
                                const std::set<std::string>& spatial) {
  int64_t stride = 1;
  std::string value = feature;
  while (value != input) {
    const int producer = graph.ProducerOf(value);
    if (producer < 0) return FailedPrecondition("value '" + value + "' is not computed from the image input");
    const Node& node = graph.nodes[static_cast<size_t>(producer)];
    FOVEA_ASSIGN_OR_RETURN(const int64_t node_stride, NodeStride(graph, node));
    stride *= node_stride;
    const auto grid = std::find_if(node.inputs.begin(), node.inputs.end(),
                                   [&](const std::string& v) { return spatial.count(v) > 0; });
    value = grid == node.inputs.end() ? node.inputs.at(0) : *grid;
  }
  return stride;
}

// The last convolution whose output is still a pixel grid; the last convolution at all when none is (-1 for none).
int LastSpatialConv(const Graph& graph, const std::set<std::string>& spatial) {
  int last = -1;
  for (int i = static_cast<int>(graph.nodes.size()) - 1; i >= 0; --i) {
    const Node& node = graph.nodes[static_cast<size_t>(i)];
    if (!node.op->IsFeatureMapProducer()) continue;
    if (spatial.count(node.outputs.at(0)) > 0) return i;
    if (last < 0) last = i;
  }
  return last;
}

const Tensor* FindInitializer(const Graph& graph, const Node& node, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return nullptr;
  const auto found = graph.initializers.find(node.inputs[input]);
  return found == graph.initializers.end() ? nullptr : &found->second;
}

// Global average pooling of an NCHW map: GlobalAveragePool, or ReduceMean over exactly the two spatial axes
// (torchvision's ShuffleNet and MNASNet write x.mean([2, 3])).
bool IsSpatialMean(const Graph& graph, const Node& node) {
  constexpr int64_t kMapRank = 4;
  if (node.op->IsGlobalAverage()) return true;
  std::vector<Tensor> parameters;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    const Tensor* t = FindInitializer(graph, node, i);
    parameters.push_back(t == nullptr ? Tensor() : *t);
  }
  const auto reduction = node.op->AsReduction(parameters);
  if (!reduction || reduction->kind != ops::ReduceKind::kMean) return false;
  std::set<int64_t> axes;
  for (int64_t axis : reduction->axes) axes.insert(axis < 0 ? axis + kMapRank : axis);
  return axes == std::set<int64_t>{kMapRank - 2, kMapRank - 1};
}

// outer ∘ inner: y = (x · innerᵀ + inner_b) · outerᵀ + outer_b, as one map.
StatusOr<LinearMap> Compose(const LinearMap& outer, const LinearMap& inner) {
  const int64_t outputs = outer.weights.dim(0), middle = outer.weights.dim(1), inputs = inner.weights.dim(1);
  if (inner.weights.dim(0) != middle) {
    return FailedPrecondition("consecutive linear layers of " + std::to_string(inner.weights.dim(0)) + " and " +
                              std::to_string(middle) + " features do not fit together");
  }
  LinearMap map{Tensor(DataType::kFloat32, {outputs, inputs}), Tensor(DataType::kFloat32, {outputs})};
  const float* wo = outer.weights.data<float>();
  const float* wi = inner.weights.data<float>();
  for (int64_t o = 0; o < outputs; ++o) {
    double bias = outer.bias.has_data() ? outer.bias.data<float>()[o] : 0.0;
    for (int64_t m = 0; m < middle; ++m) {
      const double w = wo[o * middle + m];
      if (inner.bias.has_data()) bias += w * inner.bias.data<float>()[m];
      for (int64_t i = 0; i < inputs; ++i) {
        map.weights.data<float>()[o * inputs + i] += static_cast<float>(w * wi[m * inputs + i]);
      }
    }
    map.bias.data<float>()[o] = static_cast<float>(bias);
  }
  return map;
}

}  // namespace

StatusOr<LinearMap> LinearMapOf(const Graph& graph, const Node& node) {
  std::vector<Tensor> parameters;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    const Tensor* t = FindInitializer(graph, node, i);
    if (t == nullptr && !node.inputs[i].empty()) break;  // a runtime operand: not a fixed linear map
    parameters.push_back(t == nullptr ? Tensor() : *t);
  }
  auto map = node.op->AsLinearMap(parameters);
  if (!map) {
    return FailedPrecondition(std::string(node.op->type()) + " node '" + node.name +
                              "' is not a linear map with constant weights");
  }
  return *map;
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

StatusOr<ClassifierHead> AnalyzeHead(const Graph& graph) {
  if (graph.inputs.size() != 1 || graph.outputs.empty()) {
    return FailedPrecondition("localization needs a model with one image input and a class output");
  }
  ClassifierHead head;
  head.input = graph.inputs[0].name;
  head.output = graph.outputs[0].name;
  const std::set<std::string> spatial = SpatialValues(graph, head.input);
  head.feature_node = LastSpatialConv(graph, spatial);
  if (head.feature_node < 0) return FailedPrecondition("the model has no convolution, so there is no feature map");
  head.feature = graph.nodes[static_cast<size_t>(head.feature_node)].outputs.at(0);
  const int producer = graph.ProducerOf(head.output);
  const Node* last = producer < 0 ? nullptr : &graph.nodes[static_cast<size_t>(producer)];
  head.ends_in_softmax = last != nullptr && last->op->IsSoftmax();
  head.logits = head.ends_in_softmax ? last->inputs.at(0) : head.output;
  auto chain = NodeChain(graph, head.feature, head.logits);
  head.chain_status = chain.status();
  if (chain.ok()) head.chain = std::move(chain).value();
  auto stride = NaturalStride(graph, head.input, head.feature, spatial);
  head.stride_status = stride.status();
  if (stride.ok()) head.natural_stride = *stride;
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
  const std::string kNeeded = "CAM needs a head of GlobalAveragePool followed by linear layers";
  std::optional<LinearMap> composite;  // from the current value to the logits
  std::string value = head.logits;
  while (true) {
    const int producer = graph.ProducerOf(value);
    if (producer < 0) return FailedPrecondition(kNeeded + "; no GlobalAveragePool comes before the class scores");
    const Node& node = graph.nodes[static_cast<size_t>(producer)];
    const std::string described = std::string(node.op->type()) + " node '" + node.name + "'";
    if (value != head.logits && ConsumersOf(graph, value).size() != 1) {
      return FailedPrecondition(kNeeded + "; the output of " + described + " is also read elsewhere");
    }
    if (IsSpatialMean(graph, node)) {
      LinearHead linear{composite ? composite->weights : Tensor(), composite ? composite->bias : Tensor(),
                        node.inputs.at(0)};
      return linear;
    }
    if (!node.op->IsView()) {
      auto map = LinearMapOf(graph, node);
      if (!map.ok()) return FailedPrecondition(kNeeded + "; found " + described + ", which is not linear");
      if (composite) {
        FOVEA_ASSIGN_OR_RETURN(composite, Compose(*composite, *map));
      } else {
        composite = std::move(map).value();
      }
    }
    value = node.inputs.at(0);
  }
}

}  // namespace fovea::engine::localization
