#pragma once
// Squeeze and Unsqueeze (ONNX): remove or insert size-1 axes. A view of a plain layout.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct SqueezeParams {
  enum class Kind { kSqueeze, kUnsqueeze } kind = Kind::kSqueeze;
  std::vector<int64_t> axes;  // from the attribute (opset < 13); empty = take the optional axes input
};

// Inputs: data, optional axes (int64, known at plan time; opset ≥ 13). Output: data with axes removed or inserted.
class Squeeze final : public Op {
 public:
  static StatusOr<std::unique_ptr<Squeeze>> Create(const SqueezeParams& params);

  std::string_view type() const override;
  const SqueezeParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  bool IsView() const override { return true; }

 private:
  explicit Squeeze(const SqueezeParams& params) : params_(params) {}
  SqueezeParams params_;
};

}  // namespace fovea::engine::ops
