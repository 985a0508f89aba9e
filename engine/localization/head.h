#pragma once
// How localization sees a classifier: a convolutional trunk ending in the last Conv node whose output is still a pixel
// grid (its "feature map", which Grad-CAM explains), and the split dense maps make where the map stops being a pixel
// grid (a global pooling, or a Flatten of a spatial map): everything before it runs unchanged on a larger image,
// whatever graph it forms, and the chain of nodes after it becomes convolutions (fully_convolutional.h).

#include <array>
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
  // Dense maps: `dense_input` is the value the head's global pooling (GlobalAveragePool, ReduceMean over the spatial
  // axes, a global max pooling) or its Flatten of a spatial map reads, and `chain` the nodes from there to the class
  // scores, in order, each reading the previous one's output (a final Softmax is not part of it). Both are set only
  // when a dense map can be exact: every node computing `dense_input` is spatially local with a stride it can state,
  // the same along every path from the image. Otherwise `chain` is empty and dense_status says why, naming the node
  // (a squeeze-excitation's global pooling inside the trunk, a node that cannot state its geometry, branches of
  // different strides joined, a fork or a non-linear layer the head cannot run per cell).
  std::string dense_input;
  std::vector<int> chain;
  Status dense_status;
  // Product of the strides from the image to `dense_input`, the same along every path (1 when dense_status is not OK).
  int64_t natural_stride = 1;
  // Which image pixels a pixel i of `dense_input` depends on, per axis (height, width): [i·natural_stride −
  // reach_before, i·natural_stride + reach_after), the union over every path (padding included: a padded pixel of an
  // inner layer stands for image pixels beyond the edge). Tiling an image exactly needs this much context.
  std::array<int64_t, 2> reach_before = {0, 0};
  std::array<int64_t, 2> reach_after = {1, 1};
  std::string logits;            // the class scores before softmax
  bool ends_in_softmax = false;  // the graph output is softmax(logits)
  std::string output;            // the graph's class output
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

// Whether `node` is a global average pooling of an NCHW map: GlobalAveragePool, or ReduceMean over exactly the two
// spatial axes (torchvision's ShuffleNet and MNASNet write x.mean([2, 3])).
bool IsSpatialMean(const Graph& graph, const Node& node);

// The linear map node `node` applies (Op::AsLinearMap with its constant inputs), or FAILED_PRECONDITION naming it.
StatusOr<LinearMap> LinearMapOf(const Graph& graph, const Node& node);

}  // namespace fovea::engine::localization
