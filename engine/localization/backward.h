#pragma once
// Backpropagation through a chain of inference nodes, for Grad-CAM: given the gradient of a score with respect to the
// chain's output, and the forward values of the chain, it returns the gradient with respect to the chain's input.
//
// Each node is differentiated by its op's own Backward (Op::Backward: Conv, Gemm and MatMul by oneDNN's backward-data
// primitives, pooling by oneDNN's pooling backward, element-wise and layout ops by theirs), with the node's other
// inputs taken as the graph's constants; views (Flatten, Reshape, Squeeze, Identity) reshape the gradient. A node
// whose op has no backward, or whose other input is computed at run time, is UNIMPLEMENTED naming the node.

#include <map>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace fovea::engine::localization {

// d(score)/d(from) from `diff_output` = d(score)/d(output of the last chain node); `chain` starts at a node reading
// value `from` (see NodeChain). `forward` holds `from` and every chain node's output by name (plain layout).
StatusOr<Tensor> BackwardThroughChain(const Graph& graph, const std::vector<int>& chain, const std::string& from,
                                      const std::map<std::string, Tensor>& forward, Tensor diff_output);

}  // namespace fovea::engine::localization
