#pragma once
// Backpropagation through a chain of inference nodes with oneDNN backward primitives, for Grad-CAM: given the
// gradient of a score with respect to the chain's output, and the forward values of the chain, it returns the
// gradient with respect to the chain's input. Weights are constants; only data gradients are computed.
//
// Supported nodes: Conv (groups, strides, pads, dilations; at most one fused activation, differentiated from the
// output) via convolution backward-data; Gemm and MatMul with constant weights via inner-product backward-data;
// Relu, LeakyRelu, Clip, Sigmoid via eltwise backward; MaxPool (workspace from a forward-training pass),
// AveragePool and their global forms via pooling backward; Flatten, Reshape, Squeeze, Identity as reshapes; Add of a
// constant as identity. Anything else is UNIMPLEMENTED naming the node.

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
