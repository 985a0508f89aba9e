#pragma once
// The final fully connected layer of a classifier graph: what fine-tuning replaces (trainer/finetune.h).

#include <string>
#include <vector>

#include "engine/graph.h"

namespace fovea::engine::localization {

// Where a classifier graph's final fully connected layer is.
struct FinalLayer {
  std::string features;                    // the value it reads, [N, F]
  std::string logits;                      // the value it writes: the class scores
  std::vector<std::string> layer_outputs;  // every output of its nodes (Gemm; or MatMul and Add)
  std::vector<std::string> class_outputs;  // graph outputs with a class dimension (the scores or their softmax)
};

// Finds the final layer of `graph` (as imported, before inference passes): the Gemm, MatMul, or MatMul + Add with
// constant weights computing the class scores (the input of a final Softmax, or the graph output).
// FAILED_PRECONDITION naming the node that computes the scores when it is none of these.
StatusOr<FinalLayer> FindFinalLayer(const Graph& graph);

}  // namespace fovea::engine::localization
