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

// Bypasses QuantizeLinear(DequantizeLinear(x_q)) with the same scale, zero point and type: the round trip is the
// identity on x_q (as QDQ exporters write around pooling).
StatusOr<Graph> CancelRequantize(Graph graph);
// Moves a per-tensor QuantizeLinear in front of the MaxPool that solely feeds it (max commutes with quantization), so
// the convolution before the pool can write 8-bit values directly and the pool runs on them.
StatusOr<Graph> MoveQuantizeBeforeMaxPool(Graph graph);
// Turns DequantizeLinear(x_q) → Conv(·, DequantizeLinear(w_q const int8), bias const) → [fused activations] →
// [QuantizeLinear] into one QLinearConv (engine/ops/quantized_conv.h) when every zero point is 0 and the activation
// scales are per tensor; drops the QuantizeLinear/DequantizeLinear nodes nothing reads any more.
StatusOr<Graph> FuseQuantizedConvs(Graph graph);

// The float twin of a quantized graph: every QLinearConv becomes a float Conv with its dequantized weights, and
// QuantizeLinear/DequantizeLinear of runtime values are bypassed (their constant uses fold). Localization runs on it:
// gradients and feature maps need float arithmetic, and the weights are the ones the int8 model uses.
StatusOr<Graph> DequantizeGraph(Graph graph);

// All of the above but DequantizeGraph, in order, after the pattern fusions FuseLayerNormPattern
// (engine/layer_norm_pass.h) and FuseChannelShuffle (engine/channel_shuffle_pass.h).
StatusOr<Graph> OptimizeForInference(Graph graph);

}  // namespace fovea::engine
