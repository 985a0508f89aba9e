#pragma once
// Elementwise activations (ONNX Relu, LeakyRelu, Clip, Sigmoid): one op because oneDNN runs them all as eltwise, and
// because the same description is fused into Conv as a post-op.

#include <memory>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/op.h"

namespace fovea::engine::ops {

enum class ActivationKind { kRelu, kLeakyRelu, kClip, kSigmoid };

struct ActivationParams {
  ActivationKind kind = ActivationKind::kRelu;
  float alpha = 0.0f;  // LeakyRelu: negative slope; Clip: lower bound
  float beta = 0.0f;   // Clip: upper bound
};

// The oneDNN eltwise algorithm and its alpha/beta for `params`.
struct EltwiseSpec {
  dnnl::algorithm algorithm;
  float alpha, beta;
};
EltwiseSpec ToEltwise(const ActivationParams& params);

// The activation applied to one value: the reference definition.
float ApplyActivation(const ActivationParams& params, float x);

// Inputs: X, and for Clip (opset ≥ 11) the optional min and max, which must be known at plan time.
class Activation final : public Op {
 public:
  static StatusOr<std::unique_ptr<Activation>> Create(const ActivationParams& params);

  std::string_view type() const override;
  const ActivationParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;

  // `params` with Clip's bounds taken from its optional constant inputs.
  StatusOr<ActivationParams> Resolve(std::span<const Tensor> bounds) const;

 private:
  explicit Activation(const ActivationParams& params) : params_(params) {}
  ActivationParams params_;
};

}  // namespace fovea::engine::ops
