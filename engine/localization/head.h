#pragma once
// How localization sees a classifier: a convolutional trunk ending in the last Conv node (its "feature map"), then a
// head that is a chain of nodes from that feature map to the class scores. CAM, Grad-CAM and dense maps all start
// from this split.

#include <string>
#include <vector>

#include "engine/graph.h"

namespace fovea::engine::localization {

struct ClassifierHead {
  std::string input;      // the graph's image input
  std::string feature;    // output of the last Conv node (its fused activation included)
  int feature_node = -1;  // index of that Conv node in graph.nodes
  // Nodes from the feature map to the class scores, in order; each reads the previous one's output (the first reads
  // `feature`). A final Softmax is not part of the chain.
  std::vector<int> chain;
  std::string logits;            // the class scores before softmax: the last chain value, or `feature`
  bool ends_in_softmax = false;  // the graph output is softmax(logits)
  std::string output;            // the graph's class output
  int64_t natural_stride = 1;    // product of the conv and pooling strides from the input to `feature`
};

// Finds the split in `graph` (one image input, one class output). FAILED_PRECONDITION, naming what is missing,
// when the graph has no Conv or the nodes after the last Conv do not form a single chain to the output.
StatusOr<ClassifierHead> AnalyzeHead(const Graph& graph);

// `graph` with `values` appended to its outputs (each once), so that one plan run also returns those intermediate
// tensors; their shapes are left open (-1) and come from the plan.
Graph WithOutputs(Graph graph, const std::vector<std::string>& values);

// The linear classifier of a GAP head, as CAM needs it: class weights [classes, channels] and bias [classes].
struct LinearHead {
  Tensor weights;
  Tensor bias;
};

// The head's weights when it is GlobalAveragePool → (Flatten | Reshape | Squeeze)* → Gemm with constant weights;
// FAILED_PRECONDITION naming the first node that does not fit otherwise.
StatusOr<LinearHead> GapLinearHead(const Graph& graph, const ClassifierHead& head);

// The nodes leading from value `from` to value `to`, each reading the previous one's output (the first reads `from`),
// when every value on the way has exactly one reader. FAILED_PRECONDITION naming the value where the path forks or
// ends. Empty when from == to.
StatusOr<std::vector<int>> NodeChain(const Graph& graph, const std::string& from, const std::string& to);

// The linear map node `node` applies (Op::AsLinearMap with its constant inputs), or FAILED_PRECONDITION naming it.
StatusOr<LinearMap> LinearMapOf(const Graph& graph, const Node& node);

}  // namespace fovea::engine::localization
