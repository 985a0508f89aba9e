#pragma once
// ConstantOfShape (ONNX): a tensor of a given shape filled with one value. Shape arithmetic only: it folds at plan
// time, and a runtime shape is rejected.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct ConstantOfShapeParams {
  // The one-element `value` attribute (its dtype is the output's); no data = float32 zero.
  Tensor value;
};

// Inputs: shape (1-D int64, known at plan time). Output: `value` repeated over that shape.
class ConstantOfShape final : public Op {
 public:
  static StatusOr<std::unique_ptr<ConstantOfShape>> Create(const ConstantOfShapeParams& params);

  std::string_view type() const override { return "ConstantOfShape"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

 private:
  explicit ConstantOfShape(const ConstantOfShapeParams& params) : params_(params) {}
  ConstantOfShapeParams params_;
};

}  // namespace fovea::engine::ops
