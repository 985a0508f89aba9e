#pragma once
// The channel-shuffle fusion: ShuffleNet's Reshape → Transpose → Reshape becomes one ChannelShuffle node
// (engine/ops/channel_shuffle.h) running oneDNN's shuffle primitive instead of two plain copies.

#include "engine/graph.h"

namespace fovea::engine {

// Replaces Reshape(x, [n, g, C/g, H, W]) → Transpose(perm [0, 2, 1, 3, 4]) → Reshape(·, [n', C, H, W]) by
// ChannelShuffle(x, groups g) when both shapes are initializers (g, C/g, H, W positive; n and n' each -1, 0 or the
// same batch), neither Reshape allows zero-sized dimensions, and the two intermediate values have one reader each and
// are not graph outputs. The fused node checks at plan time that x is [n, C, H, W] as the first Reshape assumed.
StatusOr<Graph> FuseChannelShuffle(Graph graph);

}  // namespace fovea::engine
