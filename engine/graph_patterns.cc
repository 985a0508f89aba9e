#include "engine/graph_patterns.h"

#include <algorithm>
#include <functional>

namespace fovea::engine {

const Tensor* Initializer(const Graph& graph, const std::string& name) {
  const auto it = graph.initializers.find(name);
  return it == graph.initializers.end() ? nullptr : &it->second;
}

std::optional<double> ScalarInitializer(const Graph& graph, const std::string& name) {
  const Tensor* t = Initializer(graph, name);
  if (t == nullptr || t->num_elements() != 1) return std::nullopt;
  if (t->dtype() == DataType::kFloat32) return t->floats()[0];
  if (t->dtype() == DataType::kInt64) return static_cast<double>(t->int64s()[0]);
  return std::nullopt;
}

const Node* BinaryNode(const Graph& graph, int index, ops::BinaryKind kind) {
  if (index < 0) return nullptr;
  const Node& node = graph.nodes[static_cast<size_t>(index)];
  return node.op->AsBinary() == kind && node.inputs.size() == 2 ? &node : nullptr;
}

int SoleReader(const Graph& graph, const std::string& value) {
  if (graph.UseCount(value) != 1) return -1;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto& in = graph.nodes[i].inputs;
    if (std::find(in.begin(), in.end(), value) != in.end()) return static_cast<int>(i);
  }
  return -1;
}

void ReplaceNodes(Graph& graph, std::vector<size_t> indices, Node replacement) {
  std::sort(indices.begin(), indices.end(), std::greater<>());
  graph.nodes[indices.front()] = std::move(replacement);
  for (size_t i = 1; i < indices.size(); ++i) {
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(indices[i]));
  }
}

}  // namespace fovea::engine
