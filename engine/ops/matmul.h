#pragma once
// MatMul (ONNX, numpy semantics): batched matrix product with broadcasting of the batch dimensions; 1-D operands
// are promoted to matrices and the added axis is removed from the result. Runs on oneDNN matmul.

#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

// Inputs: A [..., M, K], B [..., K, N]. Output: Y [broadcast(...), M, N].
class MatMul final : public Op {
 public:
  static StatusOr<std::unique_ptr<MatMul>> Create();

  std::string_view type() const override { return "MatMul"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Y = A·B with a constant 2-D B: weights Bᵀ, no bias.
  std::optional<LinearMap> AsLinearMap(std::span<const Tensor> parameters) const override;
  // dA and dB for a B of rank 1 or 2 (A's leading axes are rows of one inner product, LinearBackward); UNIMPLEMENTED
  // for a batched B.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  MatMul() = default;
};

}  // namespace fovea::engine::ops
