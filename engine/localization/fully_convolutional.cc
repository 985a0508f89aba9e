#include "engine/localization/fully_convolutional.h"

#include <algorithm>
#include <array>

#include "engine/ops/conv.h"
#include "engine/ops/pool.h"
#include "engine/ops/softmax.h"

namespace fovea::engine::localization {
namespace {

constexpr int64_t kChannelAxis = 1;

// Average pooling over `window` (height, width) at stride 1: a global average pooling slid over a larger map.
StatusOr<std::shared_ptr<const Op>> AveragePoolOver(std::array<int64_t, 2> window) {
  ops::PoolParams params;
  params.kind = ops::PoolParams::Kind::kAverage;
  params.window.kernel = {window[0], window[1]};
  params.window.strides = {1, 1};
  FOVEA_ASSIGN_OR_RETURN(auto pool, ops::Pool::Create(params));
  return std::shared_ptr<const Op>(std::move(pool));
}

// What a head value is in the rewritten network: still a spatial feature map, a vector of features per cell, or a
// spatial map the original model flattened (its next Gemm sees every position of the window at once).
enum class Form { kMap, kVector, kFlattened };

struct Rewriter {
  const Graph& source;
  const std::map<std::string, Shape>& shapes;
  Graph out;
  std::map<std::string, std::string> renamed;  // value of a dropped node → the value that replaces it
  Form form = Form::kMap;
  Shape flattened;  // the [N, C, h, w] shape a Flatten consumed, for Form::kFlattened

  std::string Resolve(const std::string& value) const {
    const auto found = renamed.find(value);
    return found == renamed.end() ? value : found->second;
  }

  StatusOr<Shape> ShapeOf(const std::string& value) const {
    const auto found = shapes.find(value);
    if (found == shapes.end()) return Internal("no shape recorded for head value '" + value + "'");
    return found->second;
  }

  void Emit(const Node& original, std::shared_ptr<const Op> op, std::vector<std::string> inputs) {
    for (auto& in : inputs) in = Resolve(in);
    out.nodes.push_back({original.name, std::move(op), std::move(inputs), original.outputs});
  }

  void Drop(const Node& node) { renamed[node.outputs.at(0)] = Resolve(node.inputs.at(0)); }

  Status GlobalOp(const Node& node) {
    FOVEA_ASSIGN_OR_RETURN(const Shape in, ShapeOf(node.inputs.at(0)));
    std::shared_ptr<const Op> windowed = node.op->WindowedOver({in[2], in[3]});
    // A ReduceMean over the spatial axes has no windowed form of its own; it is an average pooling.
    if (windowed == nullptr && IsSpatialMean(source, node)) {
      FOVEA_ASSIGN_OR_RETURN(windowed, AveragePoolOver({in[2], in[3]}));
    }
    if (windowed == nullptr) {
      return FailedPrecondition("dense maps cannot slide " + std::string(node.op->type()) + " node '" + node.name +
                                "' over a larger image: it has no windowed form");
    }
    Emit(node, std::move(windowed), {node.inputs[0]});
    form = Form::kVector;
    return OkStatus();
  }

  Status Reshape(const Node& node) {
    if (form == Form::kMap) {
      FOVEA_ASSIGN_OR_RETURN(const Shape in, ShapeOf(node.inputs.at(0)));
      if (in.size() != 4) return FailedPrecondition("node '" + node.name + "' reshapes a non-4-D value");
      const bool single_cell = in[2] == 1 && in[3] == 1;
      form = single_cell ? Form::kVector : Form::kFlattened;
      flattened = in;
    }
    Drop(node);
    return OkStatus();
  }

  // The classifier's weights as a convolution kernel over the current form.
  StatusOr<Tensor> ConvWeights(const Node& node, const Tensor& weights) const {
    const int64_t classes = weights.dim(0), features = weights.dim(1);
    Shape kernel = {classes, features, 1, 1};
    if (form == Form::kFlattened) kernel = {classes, flattened[1], flattened[2], flattened[3]};
    if (NumElements(kernel) != weights.num_elements()) {
      return FailedPrecondition(std::string(node.op->type()) + " node '" + node.name + "' has " +
                                std::to_string(features) + " inputs, which does not match the feature map " +
                                ShapeToString(flattened));
    }
    return weights.Reshaped(kernel);
  }

  // A linear classifier (Gemm, MatMul, 1×1 convolution on a vector) becomes a convolution over the feature map.
  Status Linear(const Node& node, const LinearMap& map) {
    if (form == Form::kMap) {
      return FailedPrecondition(std::string(node.op->type()) + " node '" + node.name +
                                "' reads the feature map before it is pooled or flattened");
    }
    FOVEA_ASSIGN_OR_RETURN(Tensor weights, ConvWeights(node, map.weights));
    out.initializers[node.name + "/as_conv.weight"] = weights;
    out.initializers[node.name + "/as_conv.bias"] = map.bias;
    FOVEA_ASSIGN_OR_RETURN(auto conv, ops::Conv::Create({}));
    Emit(node, std::move(conv), {node.inputs[0], node.name + "/as_conv.weight", node.name + "/as_conv.bias"});
    form = Form::kVector;
    return OkStatus();
  }

  Status HeadNode(const Node& node) {
    const Op& op = *node.op;
    if (op.IsView()) return Reshape(node);
    if (auto map = LinearMapOf(source, node); map.ok()) return Linear(node, *map);
    std::vector<Shape> input_shapes;
    for (const auto& input : node.inputs) {
      const auto shape = ShapeOf(input);
      input_shapes.push_back(shape.ok() ? *shape : Shape{});
    }
    const auto geometry = op.Geometry(input_shapes);
    if (geometry.ok() && geometry->global) return GlobalOp(node);
    // Ops that keep the grid (activations, windowed pooling on the map) run unchanged on the larger image.
    const bool keeps_grid = geometry.ok() && geometry->upsample == std::array<int64_t, 2>{1, 1};
    if (keeps_grid && (form == Form::kMap || *geometry == SpatialGeometry::Pointwise())) {
      Emit(node, node.op, node.inputs);
      return OkStatus();
    }
    return FailedPrecondition("dense maps cannot turn " + std::string(op.type()) + " node '" + node.name +
                              "' of the classifier head into a convolution" +
                              (geometry.ok() ? std::string() : ": " + geometry.status().message()) +
                              "; use GRAD_CAM instead");
  }
};

// Removes nodes none of whose outputs is read (e.g. the shape arithmetic of a dropped Reshape).
void RemoveDeadNodes(Graph& graph) {
  bool removed = true;
  while (removed) {
    removed = false;
    for (size_t i = graph.nodes.size(); i-- > 0;) {
      const auto& outs = graph.nodes[i].outputs;
      const bool dead = std::all_of(outs.begin(), outs.end(),
                                    [&](const std::string& v) { return v.empty() || graph.UseCount(v) == 0; });
      if (dead) {
        graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
        removed = true;
      }
    }
  }
}

}  // namespace

StatusOr<Graph> FullyConvolutional(const Graph& graph, const ClassifierHead& head,
                                   const std::map<std::string, Shape>& shapes) {
  FOVEA_RETURN_IF_ERROR(head.dense_status);
  if (head.chain.empty()) return FailedPrecondition("the model has no classifier after its global pooling or Flatten");
  Rewriter rewriter{graph, shapes, {}, {}, Form::kMap, {}};
  rewriter.out.initializers = graph.initializers;
  rewriter.out.inputs = graph.inputs;
  Shape& input_shape = rewriter.out.inputs[0].shape;
  if (input_shape.size() != 4) return FailedPrecondition("the image input must be 4-D NCHW");
  input_shape = {-1, input_shape[1], -1, -1};
  const std::vector<int>& chain = head.chain;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    const bool in_chain = std::find(chain.begin(), chain.end(), static_cast<int>(i)) != chain.end();
    if (in_chain) {
      FOVEA_RETURN_IF_ERROR(rewriter.HeadNode(node));
    } else if (node.outputs.at(0) != head.output || !head.ends_in_softmax) {
      rewriter.out.nodes.push_back(node);
    }
  }
  if (rewriter.form != Form::kVector) {
    return FailedPrecondition("the classifier head does not reduce the feature map to class scores");
  }
  FOVEA_ASSIGN_OR_RETURN(auto softmax, ops::Softmax::Create({.axis = kChannelAxis}));
  rewriter.out.nodes.push_back({"dense_softmax", std::move(softmax), {rewriter.Resolve(head.logits)}, {kDenseOutput}});
  rewriter.out.outputs = {{kDenseOutput, DataType::kFloat32, {-1, -1, -1, -1}}};
  RemoveDeadNodes(rewriter.out);
  FOVEA_RETURN_IF_ERROR(ValidateGraph(rewriter.out));
  return std::move(rewriter.out);
}

}  // namespace fovea::engine::localization
