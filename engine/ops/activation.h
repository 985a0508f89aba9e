#pragma once
// Elementwise activations (ONNX Relu, LeakyRelu, Clip, Sigmoid): one op because oneDNN runs them all as eltwise, and
// because the same description is fused into Conv as a post-op.

#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/op.h"
#include "engine/ops/activation_params.h"

namespace fovea::engine::ops {

// Inputs: X, and for Clip (opset ≥ 11) the optional min and max, which must be known at plan time.
class Activation final : public Op {
 public:
  static StatusOr<std::unique_ptr<Activation>> Create(const ActivationParams& params);

  std::string_view type() const override;
  const ActivationParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

  std::optional<ActivationParams> FusedActivation(std::span<const Tensor> parameters) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }

  // `params` with Clip's bounds taken from its optional constant inputs.
  StatusOr<ActivationParams> Resolve(std::span<const Tensor> bounds) const;

 private:
  explicit Activation(const ActivationParams& params) : params_(params) {}
  ActivationParams params_;
};

}  // namespace fovea::engine::ops
