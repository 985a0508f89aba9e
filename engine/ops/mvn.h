#pragma once
// MeanVarianceNormalization (ONNX): y = (x − mean) / (sqrt(E[x²] − mean²) + 1e-9) over `axes`. oneDNN 2.6 has no
// normalization over an arbitrary axis set, so the plan runs the reference loop as a host step.

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct MvnParams {
  std::vector<int64_t> axes = {0, 2, 3};
};

// Inputs: X (float32). Output: Y like X.
class Mvn final : public Op {
 public:
  static StatusOr<std::unique_ptr<Mvn>> Create(const MvnParams& params);

  std::string_view type() const override { return "MeanVarianceNormalization"; }
  const MvnParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Mvn(MvnParams params) : params_(std::move(params)) {}
  MvnParams params_;
};

}  // namespace fovea::engine::ops
