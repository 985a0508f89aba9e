#pragma once
// How localization sees a classifier: a convolutional trunk ending in the last Conv node whose output is still a pixel
// grid (its "feature map"), then the nodes from that feature map to the class scores. CAM and dense maps need those
// nodes to be a single chain; Grad-CAM differentiates any graph of them (backward.h). All three start from this split.

#include <string>
#include <vector>

#include "engine/graph.h"

namespace fovea::engine::localization {

struct ClassifierHead {
  std::string input;  // the graph's image input
  // Output of the last Conv node (its fused activation and sum included) that is not downstream of a global pooling,
  // a Flatten or a classifier: the last map with spatial extent, not a squeeze-excitation's 1×1 convolutions.
  std::string feature;
  int feature_node = -1;  // index of that Conv node in graph.nodes
  // Nodes from the feature map to the class scores, in order, when they form a single chain; each reads the previous
  // one's output (the first reads `feature`). A final Softmax is not part of the chain. Empty otherwise, and
  // chain_status says where the path forks (a residual sum, a Concat, a squeeze-excitation).
  std::vector<int> chain;
  Status chain_status;
  std::string logits;            // the class scores before softmax: the last chain value, or `feature`
  bool ends_in_softmax = false;  // the graph output is softmax(logits)
  std::string output;            // the graph's class output
  // Product of the conv and pooling strides from the input to `feature`, which dense maps need; when a node on the
  // way cannot state its stride (a Pad, whose pads are an input), stride_status says which and the stride is 1.
  int64_t natural_stride = 1;
  Status stride_status;
};

// Finds the split in `graph` (one image input, one class output). FAILED_PRECONDITION, naming what is missing,
// when the graph has no Conv.
StatusOr<ClassifierHead> AnalyzeHead(const Graph& graph);

// `graph` with `values` appended to its outputs (each once), so that one plan run also returns those intermediate
// tensors; their shapes are left open (-1) and come from the plan.
Graph WithOutputs(Graph graph, const std::vector<std::string>& values);

// The linear classifier of a GAP head, as CAM needs it: class weights [classes, channels] and bias [classes], and the
// feature map the pooling reads. Weights without data stand for the identity: the pooled channels are the class
// scores themselves (SqueezeNet's head: a 1×1 convolution and ReLU before the pooling).
struct LinearHead {
  Tensor weights;
  Tensor bias;
  std::string feature;
};

// The head's weights when the class scores are a global average pooling (GlobalAveragePool, or ReduceMean over the two
// spatial axes) of some value followed by any number of linear maps
// with constant weights (Gemm, MatMul, a 1×1 convolution; composed into one) and views (Flatten, Reshape, Squeeze),
// each read only by the next; FAILED_PRECONDITION naming the first node that does not fit otherwise. The feature is
// the pooling's input, wherever it comes from (a Concat, a squeeze-excitation product, an activation).
StatusOr<LinearHead> GapLinearHead(const Graph& graph, const ClassifierHead& head);

// The nodes leading from value `from` to value `to`, each reading the previous one's output (the first reads `from`),
// when every value on the way has exactly one reader. FAILED_PRECONDITION naming the value where the path forks or
// ends. Empty when from == to.
StatusOr<std::vector<int>> NodeChain(const Graph& graph, const std::string& from, const std::string& to);

// The linear map node `node` applies (Op::AsLinearMap with its constant inputs), or FAILED_PRECONDITION naming it.
StatusOr<LinearMap> LinearMapOf(const Graph& graph, const Node& node);

}  // namespace fovea::engine::localization
