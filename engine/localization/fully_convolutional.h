#pragma once
// Turns a classifier into a fully-convolutional network (OverFeat-style): run on an image larger than the model input,
// it outputs at every cell what the classifier would say about one input-sized window, in a single pass.
//
// The trunk (everything computing the value the head's global pooling or Flatten reads, whatever graph it forms) runs
// unchanged on any size. The head is rewritten node by node:
// global pooling (a spatial ReduceMean too) becomes pooling with the kernel of the feature map at the model's input
// size and stride 1; Flatten and reshapes disappear; a Gemm becomes a convolution (1x1 on a pooled vector, or with the
// flattened feature map's size as its kernel when the model flattens a spatial map); activations stay; the final
// Softmax runs over the channel axis (one is added when the model outputs logits). The output is [N, classes, rows,
// cols] probabilities.

#include <map>
#include <string>

#include "engine/graph.h"
#include "engine/localization/head.h"

namespace fovea::engine::localization {

// The rewritten graph. `shapes` holds the shape at the model's input size of `head.dense_input` and of every chain
// value (from a plan run with WithOutputs). Its input accepts any height and width; its single output is
// "dense_probabilities". FAILED_PRECONDITION naming the node when the head has a node that cannot become a convolution.
StatusOr<Graph> FullyConvolutional(const Graph& graph, const ClassifierHead& head,
                                   const std::map<std::string, Shape>& shapes);

inline constexpr char kDenseOutput[] = "dense_probabilities";

}  // namespace fovea::engine::localization
