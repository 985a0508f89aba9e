#pragma once
// Graph: the engine's model of a network: named values flowing between nodes in topological order. modelio/ builds it
// from ONNX; graph passes rewrite it; Plan compiles it.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/op.h"
#include "engine/tensor.h"

namespace fovea::engine {

// A graph input or output. A dimension of -1 accepts any size (dynamic batch, free image size).
struct ValueInfo {
  std::string name;
  DataType dtype = DataType::kFloat32;
  Shape shape;
};

struct Node {
  std::string name;
  std::shared_ptr<const Op> op;      // shared: graph passes copy graphs, ops are immutable
  std::vector<std::string> inputs;   // value names; "" marks an absent optional input
  std::vector<std::string> outputs;  // value names; "" marks an unused optional output
};

struct Graph {
  std::vector<ValueInfo> inputs;
  std::vector<ValueInfo> outputs;
  std::map<std::string, Tensor> initializers;  // constants: weights and folded Constant nodes
  std::vector<Node> nodes;                     // topological order

  // Index of the node producing `value`, or -1 (graph input, initializer or unknown).
  int ProducerOf(const std::string& value) const;
  // Number of node inputs and graph outputs reading `value`.
  int UseCount(const std::string& value) const;
};

// Checks that nodes are in topological order, every input is defined, and names are unique.
Status ValidateGraph(const Graph& graph);

// Runs `graph` with every op's reference kernel: the end-to-end oracle for tests. Inputs in graph input order.
StatusOr<std::vector<Tensor>> RunReference(const Graph& graph, std::span<const Tensor> inputs);

}  // namespace fovea::engine
