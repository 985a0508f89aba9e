#pragma once
// InstanceNormalization (ONNX): each (sample, channel) plane normalized over its spatial positions, then scaled and
// shifted per channel. On oneDNN layer normalization over X seen as [N·C, spatial], then one binary multiply with the
// shift as a binary post-op.

#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct InstanceNormParams {
  float epsilon = 1e-5f;
};

// Inputs: X [N, C, D1, ...] (float32), scale [C], B [C]. Output: Y like X.
class InstanceNorm final : public Op {
 public:
  static StatusOr<std::unique_ptr<InstanceNorm>> Create(const InstanceNormParams& params);

  std::string_view type() const override { return "InstanceNormalization"; }
  const InstanceNormParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Gradients of X, scale and B.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit InstanceNorm(const InstanceNormParams& params) : params_(params) {}
  InstanceNormParams params_;
};

}  // namespace fovea::engine::ops
