#pragma once
// Elementwise reductions over N ≥ 1 inputs with numpy broadcasting (ONNX Sum, Mean, Min, Max): one oneDNN sum
// primitive when every input has the output's shape (Mean scales each input by 1/N), otherwise a chain of oneDNN
// binary steps.

#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct VariadicParams {
  enum class Kind { kSum, kMean, kMin, kMax } kind = Kind::kSum;
};

// The ONNX operator computing `kind` ("Sum").
std::string_view VariadicName(VariadicParams::Kind kind);

// Inputs: X1..XN (float32; Sum, Min and Max also int64, uint8 or int8 when all are known at plan time). Output: the
// elementwise sum, mean, minimum or maximum over broadcast(X1..XN).
class Variadic final : public Op {
 public:
  static StatusOr<std::unique_ptr<Variadic>> Create(const VariadicParams& params);

  std::string_view type() const override { return VariadicName(params_.kind); }
  const VariadicParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  // dXi summed over the axes along which Xi was broadcast; Min and Max pass each gradient element to the first input
  // holding the chosen value.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Variadic(const VariadicParams& params) : params_(params) {}
  // The sum primitive over inputs that all have the output's shape.
  PlanValue EmitSum(PlanBuilder& builder, std::span<const PlanValue> inputs) const;
  // Pairwise binary steps (then the 1/N scaling of Mean).
  StatusOr<PlanValue> EmitChain(PlanBuilder& builder, std::span<const PlanValue> inputs) const;
  VariadicParams params_;
};

}  // namespace fovea::engine::ops
