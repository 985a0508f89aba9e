#include "engine/graph.h"

#include <set>

namespace fovea::engine {

int Graph::ProducerOf(const std::string& value) const {
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (const auto& out : nodes[i].outputs) {
      if (out == value) return static_cast<int>(i);
    }
  }
  return -1;
}

int Graph::UseCount(const std::string& value) const {
  int count = 0;
  for (const auto& node : nodes) {
    for (const auto& in : node.inputs) count += in == value ? 1 : 0;
  }
  for (const auto& out : outputs) count += out.name == value ? 1 : 0;
  return count;
}

Status ValidateGraph(const Graph& graph) {
  std::set<std::string> defined;
  for (const auto& in : graph.inputs) defined.insert(in.name);
  for (const auto& [name, tensor] : graph.initializers) defined.insert(name);
  for (const auto& node : graph.nodes) {
    if (!node.op) return Internal("node '" + node.name + "' has no op");
    for (const auto& in : node.inputs) {
      if (!in.empty() && !defined.contains(in)) {
        return InvalidArgument("node '" + node.name + "' (" + std::string(node.op->type()) + ") reads '" + in +
                               "', which no earlier node, input or initializer defines");
      }
    }
    for (const auto& out : node.outputs) {
      if (out.empty()) continue;
      if (!defined.insert(out).second) {
        return InvalidArgument("value '" + out + "' is defined twice (second time by node '" + node.name + "')");
      }
    }
  }
  for (const auto& out : graph.outputs) {
    if (!defined.contains(out.name)) return InvalidArgument("graph output '" + out.name + "' is never computed");
  }
  return OkStatus();
}

StatusOr<std::vector<Tensor>> RunReference(const Graph& graph, std::span<const Tensor> inputs) {
  if (inputs.size() != graph.inputs.size()) {
    return InvalidArgument("expected " + std::to_string(graph.inputs.size()) + " inputs, got " +
                           std::to_string(inputs.size()));
  }
  std::map<std::string, Tensor> values = graph.initializers;
  for (size_t i = 0; i < inputs.size(); ++i) values[graph.inputs[i].name] = inputs[i];
  for (const auto& node : graph.nodes) {
    std::vector<Tensor> args;
    for (const auto& in : node.inputs) args.push_back(in.empty() ? Tensor() : values.at(in));
    auto outs = node.op->Reference(args);
    if (!outs.ok()) return outs.status().WithContext("node '" + node.name + "' (" + std::string(node.op->type()) + ")");
    for (size_t i = 0; i < node.outputs.size() && i < outs->size(); ++i) {
      if (!node.outputs[i].empty()) values[node.outputs[i]] = (*outs)[i];
    }
  }
  std::vector<Tensor> result;
  for (const auto& out : graph.outputs) result.push_back(values.at(out.name));
  return result;
}

}  // namespace fovea::engine
