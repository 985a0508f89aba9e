#pragma once
// The graph pass that turns the decomposed GELU exporters write (ONNX has no Gelu operator before opset 20) into one
// Gelu activation, which runs as one oneDNN eltwise instead of five nodes, one of them (Erf) a scalar host loop.

#include "engine/graph.h"

namespace fovea::engine {

// Replaces every
//   y = Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5)   (torch.onnx's form; operands in either order)
// and the same with Mul(x, 1/√2) for the Div, or with the 0.5 applied to x first (Mul(Mul(x, 0.5), Add(…))), whose
// intermediate values nothing else reads, with Gelu(x) (ops::ActivationKind::kGelu).
StatusOr<Graph> FuseGeluPattern(Graph graph);

}  // namespace fovea::engine
