#pragma once
// The ONNX reductions (ReduceMean, ReduceMax, ReduceMin, ReduceSum, ReduceProd, ReduceL1, ReduceL2,
// ReduceSumSquare, ReduceLogSum, ReduceLogSumExp) over a set of axes, on oneDNN's reduction primitive (LogSum and
// LogSumExp add eltwise and binary steps).

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct ReduceParams {
  ReduceKind kind = ReduceKind::kSum;
  // The axes when they are an attribute (ReduceSum before opset 13, the others before 18). Ignored when
  // `axes_from_input`: then the optional second input, a plan-time int64 constant, holds them.
  std::vector<int64_t> axes;
  bool axes_from_input = false;
  bool keepdims = true;
  // With no axes given: true returns the input unchanged, false reduces over every axis.
  bool noop_with_empty_axes = false;
};

// Inputs: data (float32; int64 too when known at load time, for Sum, Prod, Max and Min), and the optional axes (int64)
// when `axes_from_input`. Output: reduced.
class Reduce final : public Op {
 public:
  static StatusOr<std::unique_ptr<Reduce>> Create(const ReduceParams& params);

  std::string_view type() const override;
  const ReduceParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Global when the axes are known and cover both spatial axes (and not the batch); Pointwise for a keepdims
  // reduction over channels only.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override;
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;
  std::optional<Reduction> AsReduction(std::span<const Tensor> parameters) const override;

  // The normalized axes this op reduces for a rank-`rank` data input with the given axes input (a Tensor without
  // data when absent); nullopt when the op is the identity (no axes and noop_with_empty_axes).
  StatusOr<std::optional<std::vector<int64_t>>> ResolveAxes(int64_t rank, const Tensor& axes_input) const;

 private:
  explicit Reduce(ReduceParams params) : params_(std::move(params)) {}
  ReduceParams params_;
};

}  // namespace fovea::engine::ops
