#pragma once
// Elementwise binary arithmetic with numpy broadcasting (ONNX Add, Sub, Mul, Div, Pow; Min and Max of two operands), on
// oneDNN binary (Pow on oneDNN eltwise pow when the exponent is a constant scalar, else a host step). Add of a Conv's
// output and a residual is fused into the Conv as a sum post-op by engine/passes.

#include <memory>

#include "engine/op.h"
#include "engine/ops/broadcast.h"

namespace fovea::engine::ops {

struct BinaryParams {
  using Kind = BinaryKind;
  Kind kind = Kind::kAdd;
};

// The ONNX operator computing `kind` ("Add").
std::string_view BinaryName(BinaryParams::Kind kind);

// Inputs: A, B (float32; int64, uint8 or int8 when both are known at plan time; Pow's exponent may be of another type
// than A). Output: broadcast(A, B), of A's type.
class Binary final : public Op {
 public:
  static StatusOr<std::unique_ptr<Binary>> Create(const BinaryParams& params);

  std::string_view type() const override { return BinaryName(params_.kind); }
  const BinaryParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  bool IsResidualSum() const override { return params_.kind == BinaryParams::Kind::kAdd; }
  std::optional<BinaryKind> AsBinary() const override { return params_.kind; }
  // dA and dB, each summed over the axes along which it was broadcast. Min and Max pass the gradient to the operand
  // they chose (A on ties); Pow's dB is 0 where A ≤ 0 (log A undefined).
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Binary(const BinaryParams& params) : params_(params) {}
  StatusOr<std::vector<PlanValue>> EmitPow(PlanBuilder& builder, const PlanValue& a, const PlanValue& b,
                                           const Shape& out) const;
  BinaryParams params_;
};

}  // namespace fovea::engine::ops
