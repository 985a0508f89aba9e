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

// A fully connected layer in oneDNN's terms, Y = X·Wᵀ + bias (oneDNN inner product; X may keep its image axes, which W
// then carries too). The trainer's linear layer and the backward of Gemm and MatMul build their primitives from it.
struct LinearProblem {
  dnnl::memory::dims src, weights, bias, dst;  // bias empty when there is none

  dnnl::inner_product_forward::desc Forward(dnnl::prop_kind prop, const dnnl::memory::desc& src_md,
                                            const dnnl::memory::desc& weights_md,
                                            const dnnl::memory::desc& dst_md) const;
  dnnl::inner_product_backward_data::desc BackwardData(const dnnl::memory::desc& src_md,
                                                       const dnnl::memory::desc& weights_md,
                                                       const dnnl::memory::desc& dst_md) const;
  dnnl::inner_product_backward_weights::desc BackwardWeights(const dnnl::memory::desc& src_md,
                                                             const dnnl::memory::desc& weights_md,
                                                             const dnnl::memory::desc& dst_md) const;
};

// Gradients of Y = X·Wᵀ for X [rows, K], W [N, K] and dY [rows, N], by oneDNN's inner-product backward: {dX, dW},
// dW only when `weight_gradient` (it is the size of W; Grad-CAM needs only dX).
std::vector<Tensor> LinearBackward(const Tensor& x, const Tensor& w, const Tensor& dy, bool weight_gradient);

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
  // dA, dB and dC: op(A) and op(B)ᵀ are brought to the inner product's [M, K] and [N, K] (LinearBackward), alpha and
  // beta scale the results, and dC sums dY over the axes C broadcasts along.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Gemm(const GemmParams& params) : params_(params) {}
  GemmParams params_;
};

// A float32 matrix transposed.
Tensor Transposed(const Tensor& t);

// A Gemm's or MatMul's constant B as the [outputs, features] matrix W of Y = X·Wᵀ, alpha folded in.
Tensor ClassWeights(const Tensor& b, bool trans_b, float alpha);

}  // namespace fovea::engine::ops
