#include "engine/localization/backward.h"

#include <oneapi/dnnl/dnnl.hpp>

namespace fovea::engine::localization {
namespace {

const Tensor* Initializer(const Graph& graph, const Node& node, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return nullptr;
  const auto found = graph.initializers.find(node.inputs[input]);
  return found == graph.initializers.end() ? nullptr : &found->second;
}

// The op's own Backward (Op::Backward) on the node's forward values: constants from the graph, `src` as the input
// the chain runs through; d(score)/d(that input).
StatusOr<Tensor> OpBackward(const Graph& graph, const Node& node, const std::string& input, const Tensor& src,
                            const Tensor& dst, const Tensor& diff) {
  std::vector<Tensor> inputs;
  size_t chain_input = node.inputs.size();
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == input && chain_input == node.inputs.size()) {
      chain_input = i;
      inputs.push_back(src);
      continue;
    }
    const Tensor* constant = Initializer(graph, node, i);
    if (constant == nullptr && !node.inputs[i].empty()) {
      return Unimplemented("Grad-CAM cannot differentiate " + std::string(node.op->type()) + " node '" + node.name +
                           "': input '" + node.inputs[i] + "' is computed at run time outside the chain");
    }
    inputs.push_back(constant == nullptr ? Tensor() : *constant);
  }
  const std::vector<Tensor> outputs = {dst}, grads = {diff};
  auto input_grads = node.op->Backward(inputs, outputs, grads);
  if (!input_grads.ok()) {
    return Unimplemented("Grad-CAM cannot differentiate " + std::string(node.op->type()) + " node '" + node.name +
                         "': " + input_grads.status().message());
  }
  if (chain_input >= input_grads->size() || !(*input_grads)[chain_input].has_data()) {
    return Internal(std::string(node.op->type()) + " returned no gradient for its input '" + input + "'");
  }
  return (*input_grads)[chain_input];
}

StatusOr<Tensor> NodeBackward(const Graph& graph, const Node& node, const std::string& input, const Tensor& src,
                              const Tensor& dst, const Tensor& diff) {
  if (node.op->IsView()) return diff.Reshaped(src.shape());
  return OpBackward(graph, node, input, src, dst, diff);
}

}  // namespace

StatusOr<Tensor> BackwardThroughChain(const Graph& graph, const std::vector<int>& chain, const std::string& from,
                                      const std::map<std::string, Tensor>& forward, Tensor diff_output) {
  Tensor diff = std::move(diff_output);
  try {
    for (size_t i = chain.size(); i-- > 0;) {
      const Node& node = graph.nodes[static_cast<size_t>(chain[i])];
      const std::string& input = i == 0 ? from : graph.nodes[static_cast<size_t>(chain[i - 1])].outputs.at(0);
      const auto src = forward.find(input);
      const auto dst = forward.find(node.outputs.at(0));
      if (src == forward.end() || dst == forward.end()) {
        return Internal("the forward values of node '" + node.name + "' were not kept");
      }
      FOVEA_ASSIGN_OR_RETURN(diff, diff.Reshaped(dst->second.shape()));
      FOVEA_ASSIGN_OR_RETURN(diff, NodeBackward(graph, node, input, src->second, dst->second, diff));
    }
  } catch (const dnnl::error& error) {
    return Unimplemented(std::string("oneDNN cannot run this backward pass: ") + error.what());
  }
  return diff;
}

}  // namespace fovea::engine::localization
