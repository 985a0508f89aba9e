#pragma once
// Gemm (ONNX): Y = alpha * op(A) * op(B) + beta * C, op = optional transpose; C broadcasts to [M, N].
// Runs on oneDNN matmul; constant B (a classifier's weights) is reordered once into the layout matmul chose.

#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct GemmParams {
  float alpha = 1.0f;
  float beta = 1.0f;
  bool trans_a = false;
  bool trans_b = false;
};

// Inputs: A [M, K] (or [K, M]), B [K, N] (or [N, K]), optional C broadcastable to [M, N]. Output: Y [M, N].
class Gemm final : public Op {
 public:
  static StatusOr<std::unique_ptr<Gemm>> Create(const GemmParams& params);

  std::string_view type() const override { return "Gemm"; }
  const GemmParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // A classifier collapses the image to a vector: there is no pixel grid after it.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Global(); }
  // Y = alpha·A·op(B) + beta·C with constant B (and C) and A not transposed.
  std::optional<LinearMap> AsLinearMap(std::span<const Tensor> parameters) const override;

 private:
  explicit Gemm(const GemmParams& params) : params_(params) {}
  GemmParams params_;
};

// A Gemm's or MatMul's constant B as the [outputs, features] matrix W of Y = X·Wᵀ, alpha folded in.
Tensor ClassWeights(const Tensor& b, bool trans_b, float alpha);

}  // namespace fovea::engine::ops
