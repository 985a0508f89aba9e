#pragma once
// Concat (ONNX) along one axis: channel concatenation at runtime on oneDNN concat, and int64 shape arithmetic at plan
// time.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct ConcatParams {
  int64_t axis = 1;  // may be negative
};

// Inputs: one or more tensors equal in all but `axis`. Output: their concatenation.
class Concat final : public Op {
 public:
  static StatusOr<std::unique_ptr<Concat>> Create(const ConcatParams& params);

  std::string_view type() const override { return "Concat"; }
  const ConcatParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Concatenating channels of NCHW maps keeps every pixel where it is.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape> input_shapes) const override;
  // Each float32 input's gradient is its own slice of dY along the axis.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Concat(const ConcatParams& params) : params_(params) {}
  ConcatParams params_;
};

}  // namespace fovea::engine::ops
