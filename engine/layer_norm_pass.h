#pragma once
// The graph pass that turns the decomposed layer normalization older exporters write into one LayerNormalization
// node (engine/ops/layer_norm.h).

#include "engine/graph.h"

namespace fovea::engine {

// Replaces every
//   m = ReduceMean(x, trailing axes); d = Sub(x, m); v = ReduceMean(Pow(d, 2) or Mul(d, d), same axes);
//   y = Div(d, Sqrt(Add(v, ε)))  [→ Mul(·, gamma) → Add(·, beta)]
// whose intermediate values nothing else reads with LayerNormalization(x, gamma, beta; axis, ε). gamma and beta join
// the node when they are initializers that scale the normalized axes only; otherwise the Mul/Add stay after it.
StatusOr<Graph> FuseLayerNormPattern(Graph graph);

}  // namespace fovea::engine
