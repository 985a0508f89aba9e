#pragma once
// LRN (ONNX local response normalization across channels): y = x / (bias + alpha/size · Σ x²)^beta, the sum over
// the `size` channels around each one. On oneDNN lrn_forward (lrn_across_channels), whose alpha is divided by the
// window size exactly as ONNX's; an even window, which oneDNN places one channel earlier, runs as a host step.

#include <cstdint>
#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct LrnParams {
  float alpha = 1e-4f;
  float beta = 0.75f;
  float bias = 1.0f;
  int64_t size = 1;  // channels in the window (required by ONNX)
};

// Inputs: X [N, C, D1, ...] (float32). Output: Y like X.
class Lrn final : public Op {
 public:
  static StatusOr<std::unique_ptr<Lrn>> Create(const LrnParams& params);

  std::string_view type() const override { return "LRN"; }
  const LrnParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // The window runs across channels only, so every pixel stays where it is.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Lrn(const LrnParams& params) : params_(params) {}
  LrnParams params_;
};

}  // namespace fovea::engine::ops
