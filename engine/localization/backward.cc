#include "engine/localization/backward.h"

#include <algorithm>
#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

namespace fovea::engine::localization {
namespace {

bool Contains(const std::set<std::string>& values, const std::string& value) { return values.count(value) > 0; }

// The forward tensor of `value`, or INTERNAL when the tap did not keep it.
StatusOr<Tensor> ForwardValue(const std::map<std::string, Tensor>& forward, const std::string& value,
                              const Node& node) {
  const auto found = forward.find(value);
  if (found == forward.end()) {
    return Internal("the forward value '" + value + "' of node '" + node.name + "' was not kept");
  }
  return found->second;
}

// The node's inputs as its op reads them: constants from the graph, computed values from the forward pass.
StatusOr<std::vector<Tensor>> NodeInputs(const Graph& graph, const Node& node,
                                         const std::map<std::string, Tensor>& forward) {
  std::vector<Tensor> inputs;
  for (const std::string& value : node.inputs) {
    if (value.empty()) {
      inputs.emplace_back();
      continue;
    }
    const auto constant = graph.initializers.find(value);
    if (constant != graph.initializers.end()) {
      inputs.push_back(constant->second);
      continue;
    }
    FOVEA_ASSIGN_OR_RETURN(Tensor tensor, ForwardValue(forward, value, node));
    inputs.push_back(std::move(tensor));
  }
  return inputs;
}

// d(score)/d(each input) of one node by its op's own Backward; a view only reshapes the gradient of its output.
StatusOr<std::vector<Tensor>> NodeBackward(const Node& node, std::span<const Tensor> inputs,
                                           std::span<const Tensor> outputs, std::span<const Tensor> output_grads,
                                           std::span<const bool> needed) {
  if (node.op->IsView()) {
    std::vector<Tensor> grads(inputs.size());
    FOVEA_ASSIGN_OR_RETURN(grads[0], output_grads[0].Reshaped(inputs[0].shape()));
    return grads;
  }
  auto grads = node.op->Backward(inputs, outputs, output_grads, needed);
  if (!grads.ok()) {
    return Unimplemented("Grad-CAM cannot differentiate " + std::string(node.op->type()) + " node '" + node.name +
                         "': " + grads.status().message());
  }
  return grads;
}

// Adds `gradient` to what `value` has gathered so far (a value read by several nodes on the path).
Status Accumulate(std::map<std::string, Tensor>& grads, const std::string& value, const Tensor& gradient) {
  const auto found = grads.find(value);
  if (found == grads.end()) {
    grads[value] = gradient;
    return OkStatus();
  }
  if (found->second.shape() != gradient.shape()) {
    return Internal("gradients of '" + value + "' disagree in shape: " + ShapeToString(found->second.shape()) +
                    " and " + ShapeToString(gradient.shape()));
  }
  // Gradients may share memory with a view's or another value's gradient, so the sum gets its own.
  Tensor sum = found->second.Clone();
  auto out = sum.floats();
  const auto add = gradient.floats();
  for (size_t i = 0; i < out.size(); ++i) out[i] += add[i];
  found->second = std::move(sum);
  return OkStatus();
}

// Differentiates one path node: reads the gradients of its outputs from `grads` (zero for an output the score does
// not read) and adds its inputs' gradients there.
Status BackwardNode(const Graph& graph, const BackwardPath& path, const Node& node,
                    const std::map<std::string, Tensor>& forward, std::map<std::string, Tensor>& grads) {
  // A node none of whose outputs carries a gradient only feeds the score through integer shape arithmetic (a
  // Shape → Gather → Concat computing a Reshape's target): it contributes nothing.
  if (std::none_of(node.outputs.begin(), node.outputs.end(),
                   [&](const std::string& value) { return grads.count(value) > 0; })) {
    return OkStatus();
  }
  std::vector<Tensor> outputs, output_grads;
  for (const std::string& value : node.outputs) {
    if (value.empty()) {
      outputs.emplace_back();
      output_grads.emplace_back();
      continue;
    }
    FOVEA_ASSIGN_OR_RETURN(Tensor output, ForwardValue(forward, value, node));
    const auto grad = grads.find(value);
    if (grad == grads.end()) {
      output_grads.emplace_back(DataType::kFloat32, output.shape());
    } else {
      FOVEA_ASSIGN_OR_RETURN(Tensor shaped, grad->second.Reshaped(output.shape()));
      output_grads.push_back(std::move(shaped));
      grads.erase(grad);
    }
    outputs.push_back(std::move(output));
  }
  FOVEA_ASSIGN_OR_RETURN(const std::vector<Tensor> inputs, NodeInputs(graph, node, forward));
  // Only the gradients of float inputs computed from `from` are used (integer inputs, shapes and indices, take none
  // even when computed from it): weights are constants, so their gradients are never computed.
  // (std::vector<bool> has no span view, hence the array.)
  const auto needed = std::make_unique<bool[]>(node.inputs.size());
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    needed[i] = Contains(path.depends_on_from, node.inputs[i]) && inputs[i].dtype() == DataType::kFloat32;
  }
  FOVEA_ASSIGN_OR_RETURN(
      const std::vector<Tensor> input_grads,
      NodeBackward(node, inputs, outputs, output_grads, std::span<const bool>(needed.get(), node.inputs.size())));
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (!needed[i]) continue;
    if (i >= input_grads.size() || !input_grads[i].has_data()) {
      return Internal(std::string(node.op->type()) + " node '" + node.name + "' returned no gradient for its input '" +
                      node.inputs[i] + "'");
    }
    FOVEA_ASSIGN_OR_RETURN(Tensor shaped, input_grads[i].Reshaped(inputs[i].shape()));
    FOVEA_RETURN_IF_ERROR(Accumulate(grads, node.inputs[i], shaped));
  }
  return OkStatus();
}

}  // namespace

StatusOr<BackwardPath> FindBackwardPath(const Graph& graph, const std::string& from, const std::string& to) {
  BackwardPath path{from, to, {}, {from}, {from}};
  if (from == to) return path;
  // Forward from `from`: the nodes (and values) that depend on it.
  std::vector<bool> downstream(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    downstream[i] = std::any_of(node.inputs.begin(), node.inputs.end(),
                                [&](const std::string& v) { return Contains(path.depends_on_from, v); });
    if (!downstream[i]) continue;
    for (const std::string& value : node.outputs) {
      if (!value.empty()) path.depends_on_from.insert(value);
    }
  }
  if (!Contains(path.depends_on_from, to)) {
    return FailedPrecondition("value '" + to + "' does not depend on value '" + from + "'");
  }
  // Backward from `to`: of those, the nodes `to` depends on.
  std::set<std::string> needed = {to};
  for (size_t i = graph.nodes.size(); i-- > 0;) {
    const Node& node = graph.nodes[i];
    const bool feeds_to = std::any_of(node.outputs.begin(), node.outputs.end(),
                                      [&](const std::string& v) { return Contains(needed, v); });
    if (!feeds_to || !downstream[i]) continue;
    path.nodes.push_back(static_cast<int>(i));
    for (const std::string& value : node.inputs) needed.insert(value);
  }
  std::reverse(path.nodes.begin(), path.nodes.end());
  std::set<std::string> kept = {from};
  for (int index : path.nodes) {
    const Node& node = graph.nodes[static_cast<size_t>(index)];
    for (const auto* values : {&node.inputs, &node.outputs}) {
      for (const std::string& value : *values) {
        if (value.empty() || graph.initializers.count(value) > 0 || !kept.insert(value).second) continue;
        path.forward_values.push_back(value);
      }
    }
  }
  return path;
}

StatusOr<Tensor> Backpropagate(const Graph& graph, const BackwardPath& path,
                               const std::map<std::string, Tensor>& forward, Tensor diff_to) {
  if (path.nodes.empty()) return diff_to;
  std::map<std::string, Tensor> grads;
  grads[path.to] = std::move(diff_to);
  try {
    for (size_t i = path.nodes.size(); i-- > 0;) {
      const Node& node = graph.nodes[static_cast<size_t>(path.nodes[i])];
      FOVEA_RETURN_IF_ERROR(BackwardNode(graph, path, node, forward, grads));
    }
  } catch (const dnnl::error& error) {
    return Unimplemented(std::string("oneDNN cannot run this backward pass: ") + error.what());
  }
  const auto found = grads.find(path.from);
  if (found == grads.end()) return Internal("no gradient reached value '" + path.from + "'");
  return found->second;
}

}  // namespace fovea::engine::localization
