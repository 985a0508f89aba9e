#pragma once
// Range (ONNX): the sequence start, start + delta, … up to (excluding) limit. Shape arithmetic only: it folds at plan
// time, and a runtime operand is rejected.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

// Inputs: start, limit, delta (scalars of one dtype, float32 or int64, known at plan time). Output: 1-D sequence.
class Range final : public Op {
 public:
  static StatusOr<std::unique_ptr<Range>> Create();

  std::string_view type() const override { return "Range"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

 private:
  Range() = default;
};

}  // namespace fovea::engine::ops
