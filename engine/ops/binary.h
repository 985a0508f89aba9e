#pragma once
// Elementwise binary arithmetic with numpy broadcasting (ONNX Add, Sub, Mul, Div), on oneDNN binary. Add of a
// Conv's output and a residual is fused into the Conv as a sum post-op by engine/passes.

#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct BinaryParams {
  enum class Kind { kAdd, kSub, kMul, kDiv } kind = Kind::kAdd;
};

// Numpy broadcast of two shapes, or an error naming both.
StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// Inputs: A, B (float32, or int64 when both are known at plan time). Output: broadcast(A, B).
class Binary final : public Op {
 public:
  static StatusOr<std::unique_ptr<Binary>> Create(const BinaryParams& params);

  std::string_view type() const override;
  const BinaryParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  bool IsResidualSum() const override { return params_.kind == BinaryParams::Kind::kAdd; }

 private:
  explicit Binary(const BinaryParams& params) : params_(params) {}
  BinaryParams params_;
};

}  // namespace fovea::engine::ops
