#pragma once
// Shape (ONNX): the dimensions of its input as an int64 tensor. Always known at plan time, because a plan is compiled
// for concrete input shapes; this is what lets PyTorch's exported shape arithmetic fold away.

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct ShapeOfParams {
  int64_t start = 0;  // opset 15 slice of the dimension list
  int64_t end = INT64_MAX;
};

// Inputs: data (any). Output: int64 [rank] (sliced by start/end).
class ShapeOf final : public Op {
 public:
  static StatusOr<std::unique_ptr<ShapeOf>> Create(const ShapeOfParams& params);

  std::string_view type() const override { return "Shape"; }
  const ShapeOfParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

 private:
  explicit ShapeOf(const ShapeOfParams& params) : params_(params) {}
  ShapeOfParams params_;
};

}  // namespace fovea::engine::ops
