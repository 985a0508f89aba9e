#pragma once
// Equal, Less, Greater, LessOrEqual, GreaterOrEqual (ONNX): elementwise comparisons with numpy broadcasting, giving
// bool. Shape arithmetic only: they fold at plan time, and a runtime operand is rejected.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct CompareParams {
  enum class Kind { kEqual, kLess, kGreater, kLessOrEqual, kGreaterOrEqual } kind = Kind::kEqual;
};

// Inputs: A, B (float32, int64 or bool, known at plan time). Output: bool broadcast(A, B).
class Compare final : public Op {
 public:
  static StatusOr<std::unique_ptr<Compare>> Create(const CompareParams& params);

  std::string_view type() const override;
  const CompareParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

 private:
  explicit Compare(const CompareParams& params) : params_(params) {}
  CompareParams params_;
};

}  // namespace fovea::engine::ops
