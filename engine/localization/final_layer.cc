#include "engine/localization/final_layer.h"

#include "engine/localization/head.h"

namespace fovea::engine::localization {
namespace {

bool IsConstant(const Graph& graph, const std::string& value) { return graph.initializers.count(value) > 0; }

std::string Describe(const Node& node) { return std::string(node.op->type()) + " node '" + node.name + "'"; }

// The Gemm or MatMul at `index` with constant weights, as the final layer writing `outputs`.
StatusOr<FinalLayer> LinearNode(const Graph& graph, int index) {
  const Node& node = graph.nodes[static_cast<size_t>(index)];
  const std::string_view type = node.op->type();
  if ((type != "Gemm" && type != "MatMul") || node.inputs.size() < 2 || !IsConstant(graph, node.inputs[1])) {
    return FailedPrecondition(
        "fine-tuning replaces a final fully connected layer (Gemm, or MatMul with an optional "
        "Add, with constant weights); the class scores come from " +
        Describe(node));
  }
  return FinalLayer{node.inputs[0], node.outputs[0], node.outputs, {}};
}

}  // namespace

StatusOr<FinalLayer> FindFinalLayer(const Graph& graph) {
  FOVEA_ASSIGN_OR_RETURN(const ClassifierHead head, AnalyzeHead(graph));
  const int producer = graph.ProducerOf(head.logits);
  if (producer < 0) return FailedPrecondition("the class scores '" + head.logits + "' are not computed by a node");
  const Node& node = graph.nodes[static_cast<size_t>(producer)];
  FinalLayer layer;
  if (node.op->type() == "Add" && node.inputs.size() == 2) {
    // MatMul + Add: the bias is the constant operand, the product the other one, read by nothing else.
    const int constant = IsConstant(graph, node.inputs[0]) ? 0 : 1;
    const std::string& product = node.inputs[static_cast<size_t>(1 - constant)];
    const int matmul = graph.ProducerOf(product);
    if (!IsConstant(graph, node.inputs[static_cast<size_t>(constant)]) || matmul < 0 || graph.UseCount(product) != 1) {
      return FailedPrecondition("fine-tuning replaces a final fully connected layer; the class scores come from " +
                                Describe(node) + ", which is not a MatMul's bias");
    }
    FOVEA_ASSIGN_OR_RETURN(layer, LinearNode(graph, matmul));
    layer.layer_outputs.insert(layer.layer_outputs.end(), node.outputs.begin(), node.outputs.end());
    layer.logits = head.logits;
  } else {
    FOVEA_ASSIGN_OR_RETURN(layer, LinearNode(graph, producer));
  }
  layer.class_outputs = {head.output};
  return layer;
}

}  // namespace fovea::engine::localization
