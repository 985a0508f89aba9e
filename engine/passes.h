#pragma once
// Inference graph passes. Each takes a graph and returns an equivalent one that runs faster on oneDNN.

#include "engine/graph.h"

namespace fovea::engine {

// Removes Identity and Dropout nodes, rewiring their consumers to their input.
StatusOr<Graph> RemoveNoOps(Graph graph);
// Folds an inference BatchNormalization into the Conv before it when the Conv's weights and the BN statistics are
// constants and the Conv's output feeds nothing else: W' = W * s, b' = (b - mean) * s + beta, s = gamma/sqrt(var+eps).
StatusOr<Graph> FoldBatchNorm(Graph graph);
// Fuses into a Conv the Add of a residual (sum post-op) and the activations (Relu, LeakyRelu, Clip, Sigmoid) that
// follow it, when each intermediate value has no other reader.
StatusOr<Graph> FusePostOps(Graph graph);

// All of the above, in order.
StatusOr<Graph> OptimizeForInference(Graph graph);

}  // namespace fovea::engine
