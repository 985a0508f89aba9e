#pragma once
// Parametric ReLU (ONNX PRelu): y = x for x ≥ 0, slope · x otherwise, with the slope broadcast to X (ONNX's
// unidirectional broadcasting: [C, 1, 1] per channel of NCHW, [1] shared, X's shape elementwise), on oneDNN prelu.

#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

// Inputs: X (float32), slope (float32, broadcastable to X). Output: Y of X's shape.
class PRelu final : public Op {
 public:
  static StatusOr<std::unique_ptr<PRelu>> Create();

  std::string_view type() const override { return "PRelu"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  // dX and dSlope (summed over the axes along which the slope was broadcast).
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  PRelu() = default;
};

}  // namespace fovea::engine::ops
