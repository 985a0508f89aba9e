#pragma once
// Backpropagation through a chain of inference nodes with oneDNN backward primitives, for Grad-CAM: given the
// gradient of a score with respect to the chain's output, and the forward values of the chain, it returns the
// gradient with respect to the chain's input. Weights are constants; only data gradients are computed.
//
// Conv (groups, strides, pads, dilations; at most one fused activation, differentiated from the output) runs
// convolution backward-data; linear maps with constant weights (Op::AsLinearMap: Gemm, MatMul) inner-product
// backward-data; MaxPool (workspace from a forward-training pass), AveragePool and their global forms pooling
// backward; views (Flatten, Reshape, Squeeze, Identity) reshape the gradient; an Add of a constant passes it on. Every
// other node is differentiated by its op's own Backward (Op::Backward), with its other inputs constant; an op without
// one is UNIMPLEMENTED naming the node.

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
