#pragma once
// Reshape (ONNX) with a shape known at plan time (a constant, or PyTorch's Shape/Gather/Concat arithmetic folded at
// load). A view of a plain layout.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct ReshapeParams {
  bool allow_zero = false;  // opset 14: a 0 in the shape means zero, not "copy this dimension"
};

// Inputs: data, shape (int64, known at plan time; -1 infers one dimension, 0 copies the input's). Output: reshaped.
class Reshape final : public Op {
 public:
  static StatusOr<std::unique_ptr<Reshape>> Create(const ReshapeParams& params);

  std::string_view type() const override { return "Reshape"; }
  const ReshapeParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  bool IsView() const override { return true; }
  // The constant target shape (nullopt with allow_zero, whose 0 means an empty dimension).
  std::optional<std::vector<int64_t>> AsReshape(std::span<const Tensor> parameters) const override {
    if (params_.allow_zero || parameters.empty() || !parameters[0].has_data() ||
        parameters[0].dtype() != DataType::kInt64 || parameters[0].rank() != 1) {
      return std::nullopt;
    }
    return std::vector<int64_t>(parameters[0].int64s().begin(), parameters[0].int64s().end());
  }

 private:
  explicit Reshape(const ReshapeParams& params) : params_(params) {}
  ReshapeParams params_;
};

}  // namespace fovea::engine::ops
