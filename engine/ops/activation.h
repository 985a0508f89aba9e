#pragma once
// Elementwise activations and unary math (ONNX Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Elu, Selu, Celu,
// Tanh, Softplus, Softsign, Exp, Log, Sqrt, Neg, Abs, Reciprocal, Floor, Ceil, Erf, Sign, Round, ThresholdedRelu,
// Shrink): one op because oneDNN runs most of them as eltwise chains, and because the same description is fused into
// Conv as post-ops. Kinds oneDNN has no eltwise for run as host steps over the reference loop.

#include <memory>
#include <optional>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/op.h"
#include "engine/ops/activation_params.h"

namespace fovea::engine::ops {

// Inputs: X, and for Clip (opset ≥ 11) the optional min and max, which must be known at plan time.
class Activation final : public Op {
 public:
  static StatusOr<std::unique_ptr<Activation>> Create(const ActivationParams& params);

  std::string_view type() const override { return ActivationName(params_.kind); }
  const ActivationParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  // The resolved params when oneDNN runs the kind as eltwise steps; `parameters` are Clip's bounds (inputs 1 and 2,
  // constants; a Tensor without data for an absent bound).
  std::optional<ActivationParams> FusedActivation(std::span<const Tensor> parameters) const override;
  // d/dX only: Clip's bounds are parameters and get no gradient.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

  // `params` with Clip's bounds taken from its optional constant inputs.
  StatusOr<ActivationParams> Resolve(std::span<const Tensor> bounds) const;

 private:
  explicit Activation(const ActivationParams& params) : params_(params) {}
  ActivationParams params_;
};

}  // namespace fovea::engine::ops
