#include "engine/localization/head.h"

#include <algorithm>
#include <array>
#include <map>
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

const Tensor* FindInitializer(const Graph& graph, const Node& node, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return nullptr;
  const auto found = graph.initializers.find(node.inputs[input]);
  return found == graph.initializers.end() ? nullptr : &found->second;
}

// How `node` maps pixels, told the shapes and values of its constant inputs (a Conv's kernel, a Pad's pads).
StatusOr<SpatialGeometry> NodeGeometry(const Graph& graph, const Node& node) {
  std::vector<Shape> shapes;
  std::vector<Tensor> parameters;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const Tensor* constant = FindInitializer(graph, node, i);
    shapes.push_back(constant == nullptr ? Shape{} : constant->shape());
    if (i > 0) parameters.push_back(constant == nullptr ? Tensor() : *constant);
  }
  return node.op->GeometryWith(shapes, parameters);
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
    const auto geometry = NodeGeometry(graph, node);
    if (geometry.ok() && geometry->global) continue;
    for (const auto& value : node.outputs) {
      if (!value.empty()) spatial.insert(value);
    }
  }
  return spatial;
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

namespace {

// What each dense refusal adds: the methods that work on any trunk.
constexpr char kDenseWayOut[] = "; use GRAD_CAM (or CAM when the head is linear after a global pooling) instead";

// Where dense maps split the model, walking back from the logits over views, linear layers and per-cell ops: the
// first global pooling met, or a view (Flatten, Reshape) of a pixel grid, as VGG and AlexNet flatten theirs.
StatusOr<int> DenseSplit(const Graph& graph, const std::string& logits, const std::set<std::string>& spatial) {
  std::string value = logits;
  for (int producer = graph.ProducerOf(value); producer >= 0; producer = graph.ProducerOf(value)) {
    const Node& node = graph.nodes[static_cast<size_t>(producer)];
    const auto geometry = NodeGeometry(graph, node);
    const bool linear = LinearMapOf(graph, node).ok();
    const bool reads_grid = spatial.count(node.inputs.at(0)) > 0;
    if (node.op->IsView() && reads_grid) return producer;
    if (IsSpatialMean(graph, node) || (!linear && geometry.ok() && geometry->global)) return producer;
    const bool per_cell = node.op->IsView() || linear || (geometry.ok() && *geometry == SpatialGeometry::Pointwise());
    if (!per_cell && !reads_grid) {
      return FailedPrecondition("dense maps cannot run " + std::string(node.op->type()) + " node '" + node.name +
                                "' of the classifier head per window: after the global pooling only views, linear "
                                "layers and per-cell activations can be turned into convolutions" +
                                kDenseWayOut);
    }
    if (!per_cell) break;
    value = node.inputs.at(0);
  }
  return FailedPrecondition(std::string("dense maps need a global pooling or a Flatten of the feature map before the "
                                        "class scores, and none comes before '") +
                            logits + "'" + kDenseWayOut);
}

// The nodes `value` is computed from (its producer included), as indices into graph.nodes, ascending.
std::set<int> AncestorsOf(const Graph& graph, const std::string& value) {
  std::set<int> ancestors;
  std::vector<std::string> pending = {value};
  while (!pending.empty()) {
    const int producer = graph.ProducerOf(pending.back());
    pending.pop_back();
    if (producer < 0 || !ancestors.insert(producer).second) continue;
    for (const auto& input : graph.nodes[static_cast<size_t>(producer)].inputs) {
      if (!input.empty()) pending.push_back(input);
    }
  }
  return ancestors;
}

// Where pixel i of a value lies in the image: it depends on image pixels [i·stride − before, i·stride + after) per
// axis (height, width).
struct PixelReach {
  int64_t stride = 1;
  std::array<int64_t, 2> before = {0, 0};
  std::array<int64_t, 2> after = {1, 1};
};

// The reach of an op's output pixels, from its first pixel-grid input's reach: output pixel i reads that input's pixels
// [i·s − offset, i·s − offset + window).
PixelReach ThroughOp(const PixelReach& in, const SpatialGeometry& geometry) {
  PixelReach out;
  out.stride = in.stride * geometry.stride[0];
  for (size_t axis = 0; axis < 2; ++axis) {
    out.before[axis] = geometry.offset[axis] * in.stride + in.before[axis];
    out.after[axis] = (geometry.window[axis] - 1 - geometry.offset[axis]) * in.stride + in.after[axis];
  }
  return out;
}

// The stride and reach of `trunk_output` when every node computing it is spatially local: a stride each op states,
// the same on both axes, and equal on every pixel-grid input a node joins (so all paths agree; the reach is their
// union). A global pooling among them (a squeeze-excitation) would pool a whole larger image instead of one window:
// FAILED_PRECONDITION naming the node, as for every other node that breaks the window correspondence.
StatusOr<PixelReach> TrunkReach(const Graph& graph, const std::string& input, const std::string& trunk_output,
                                const std::set<std::string>& spatial) {
  std::map<std::string, PixelReach> reaches = {{input, PixelReach{}}};
  for (const int index : AncestorsOf(graph, trunk_output)) {
    const Node& node = graph.nodes[static_cast<size_t>(index)];
    // The first pixel-grid input is the one the op's geometry reads; any other (a fused residual sum, a Concat's
    // other branches, an Add's second operand) joins the output grid.
    std::vector<PixelReach> inputs;
    for (const auto& value : node.inputs) {
      if (spatial.count(value) > 0 && reaches.count(value) > 0) inputs.push_back(reaches.at(value));
    }
    if (inputs.empty()) continue;  // constants, or a squeeze-excitation's per-channel vector
    const std::string described = std::string(node.op->type()) + " node '" + node.name + "'";
    auto geometry = NodeGeometry(graph, node);
    if (!geometry.ok()) {
      return FailedPrecondition("dense maps cannot slide " + described +
                                " of the trunk over a larger image: " + geometry.status().message() + kDenseWayOut);
    }
    if (geometry->global) {
      return FailedPrecondition(described +
                                " pools the whole map inside the trunk (a squeeze-excitation); on an image larger than "
                                "the model input it would pool the whole image, not one window, so a dense map would "
                                "not be the classifier's answer for each window" +
                                kDenseWayOut);
    }
    if (geometry->upsample != std::array<int64_t, 2>{1, 1} || geometry->stride[0] != geometry->stride[1]) {
      return FailedPrecondition(described + " upsamples or has different strides per axis; dense maps need one stride" +
                                kDenseWayOut);
    }
    PixelReach output = ThroughOp(inputs[0], *geometry);
    for (size_t i = 1; i < inputs.size(); ++i) {
      if (inputs[i].stride != output.stride) {
        return FailedPrecondition(described + " joins maps of strides " + std::to_string(output.stride) + " and " +
                                  std::to_string(inputs[i].stride) +
                                  "; a dense map's cells would have no single geometry" + kDenseWayOut);
      }
      for (size_t axis = 0; axis < 2; ++axis) {
        output.before[axis] = std::max(output.before[axis], inputs[i].before[axis]);
        output.after[axis] = std::max(output.after[axis], inputs[i].after[axis]);
      }
    }
    for (const auto& value : node.outputs) {
      if (!value.empty()) reaches[value] = output;
    }
  }
  const auto found = reaches.find(trunk_output);
  if (found == reaches.end()) return FailedPrecondition("value '" + trunk_output + "' is not computed from the image");
  return found->second;
}

// Fills the head's dense fields, or its dense_status.
Status PrepareDense(const Graph& graph, const std::set<std::string>& spatial, ClassifierHead& head) {
  FOVEA_ASSIGN_OR_RETURN(const int split, DenseSplit(graph, head.logits, spatial));
  const std::string trunk_output = graph.nodes[static_cast<size_t>(split)].inputs.at(0);
  FOVEA_ASSIGN_OR_RETURN(const PixelReach reach, TrunkReach(graph, head.input, trunk_output, spatial));
  auto chain = NodeChain(graph, trunk_output, head.logits);
  if (!chain.ok()) return FailedPrecondition("dense maps: " + chain.status().message() + kDenseWayOut);
  head.dense_input = trunk_output;
  head.chain = std::move(chain).value();
  head.natural_stride = reach.stride;
  head.reach_before = reach.before;
  head.reach_after = reach.after;
  return OkStatus();
}

}  // namespace

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
  head.dense_status = PrepareDense(graph, spatial, head);
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
