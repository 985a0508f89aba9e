#pragma once
// Where (ONNX): picks X where the condition holds and Y elsewhere, with numpy broadcasting of all three. Shape
// arithmetic only: it folds at plan time, and a runtime operand is rejected.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

// Inputs: condition (bool), X, Y (one dtype), all known at plan time. Output: broadcast(condition, X, Y).
class Where final : public Op {
 public:
  static StatusOr<std::unique_ptr<Where>> Create();

  std::string_view type() const override { return "Where"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

 private:
  Where() = default;
};

}  // namespace fovea::engine::ops
