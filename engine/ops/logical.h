#pragma once
// Not, And, Or, Xor (ONNX) on bool tensors with numpy broadcasting. Shape arithmetic only: they fold at plan time.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct LogicalParams {
  enum class Kind { kNot, kAnd, kOr, kXor } kind = Kind::kNot;
};

// Inputs: A (Not) or A, B (bool, known at plan time). Output: bool.
class Logical final : public Op {
 public:
  static StatusOr<std::unique_ptr<Logical>> Create(const LogicalParams& params);

  std::string_view type() const override;
  const LogicalParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

 private:
  explicit Logical(const LogicalParams& params) : params_(params) {}
  LogicalParams params_;
};

}  // namespace fovea::engine::ops
