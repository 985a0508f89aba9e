#pragma once
// BatchNormalization in inference mode: y = scale * (x - mean) / sqrt(var + epsilon) + bias, per channel (axis 1).
// Usually folded into the preceding Conv by engine/passes; this op runs the ones that cannot be folded.

#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct BatchNormParams {
  float epsilon = 1e-5f;
};

// Inputs: X [N, C, ...], scale [C], B [C], mean [C], var [C]. Output: Y like X. (Training-mode outputs unsupported.)
class BatchNorm final : public Op {
 public:
  static StatusOr<std::unique_ptr<BatchNorm>> Create(const BatchNormParams& params);

  std::string_view type() const override { return "BatchNormalization"; }
  const BatchNormParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  // scale = gamma / sqrt(var + epsilon), shift = beta − mean · scale, from constant gamma, beta, mean and var.
  std::optional<ChannelAffine> AsChannelAffine(std::span<const Tensor> parameters) const override;
  // dX = dY · gamma / sqrt(var + epsilon) per channel: inference mode, so the statistics are constants. The
  // parameters get no gradient (inference only).
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit BatchNorm(const BatchNormParams& params) : params_(params) {}
  BatchNormParams params_;
};

}  // namespace fovea::engine::ops
