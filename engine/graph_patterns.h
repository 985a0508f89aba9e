#pragma once
// Small queries the pattern passes (layer normalization, GELU) share to recognize a subgraph by its nodes and
// constants before rewriting it.

#include <optional>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/ops/binary.h"

namespace fovea::engine {

// The initializer named `name`, or nullptr.
const Tensor* Initializer(const Graph& graph, const std::string& name);

// The single value of a one-element float32 or int64 initializer, as a double.
std::optional<double> ScalarInitializer(const Graph& graph, const std::string& name);

// The node at `index` when it is a two-input Binary of `kind`, else nullptr (also for index -1).
const Node* BinaryNode(const Graph& graph, int index, ops::BinaryKind kind);

// The only node reading `value`, or -1 (none, several, or a graph output).
int SoleReader(const Graph& graph, const std::string& value);

// Replaces the nodes at `indices` with `replacement`, which takes the place of the last of them: every value a
// matched pattern reads is computed before its last node, so the graph stays in topological order.
void ReplaceNodes(Graph& graph, std::vector<size_t> indices, Node replacement);

}  // namespace fovea::engine
