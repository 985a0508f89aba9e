#pragma once
// Gather (ONNX) on values known at plan time (PyTorch's shape arithmetic); a runtime Gather is rejected with a clear
// error.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct GatherParams {
  int64_t axis = 0;
};

// Inputs: data, indices (int64; negative counts from the end). Output: data taken along axis.
class Gather final : public Op {
 public:
  static StatusOr<std::unique_ptr<Gather>> Create(const GatherParams& params);

  std::string_view type() const override { return "Gather"; }
  const GatherParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

 private:
  explicit Gather(const GatherParams& params) : params_(params) {}
  GatherParams params_;
};

}  // namespace fovea::engine::ops
