#pragma once
// LayerNormalization (ONNX opset 17): normalizes over the trailing axes from `axis` on, then scales and shifts, on
// oneDNN layer_normalization_forward over the input seen as [outer, inner].

#include <cstdint>
#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct LayerNormParams {
  int64_t axis = -1;
  float epsilon = 1e-5f;
};

// Inputs: X (float32), Scale and the optional B, each with inner = X.shape[axis:] elements. Outputs: Y like X, and
// Mean and InvStdDev (X's shape with the normalized axes 1): 1/sqrt(variance + epsilon).
class LayerNorm final : public Op {
 public:
  static StatusOr<std::unique_ptr<LayerNorm>> Create(const LayerNormParams& params);

  std::string_view type() const override { return "LayerNormalization"; }
  const LayerNormParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Gradients of X, Scale and B from the gradients of Y and, when given, of Mean and InvStdDev.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit LayerNorm(const LayerNormParams& params) : params_(params) {}
  LayerNormParams params_;
};

}  // namespace fovea::engine::ops
