#pragma once
// What an elementwise activation computes, as a value: the Activation op runs it, and a convolution runs the same
// description as oneDNN eltwise post-ops when the inference passes fuse the two (Op::FusedActivation). Each kind is one
// row of the table in activation_kinds.cc (its ONNX name, defaults, formula, derivative and oneDNN form).

#include <string_view>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace fovea::engine::ops {

enum class ActivationKind {
  kRelu,
  kLeakyRelu,
  kClip,
  kSigmoid,
  kHardSigmoid,
  kHardSwish,
  kElu,
  kSelu,
  kCelu,
  kTanh,
  kSoftplus,
  kSoftsign,
  kExp,
  kLog,
  kSqrt,
  kNeg,
  kAbs,
  kReciprocal,
  kFloor,
  kCeil,
  kErf,
  kSign,
  kRound,
  kThresholdedRelu,
  kShrink,
  // x·Φ(x), Φ the standard normal CDF written with erf: no ONNX operator before opset 20, so what FuseGeluPattern
  // (engine/gelu_pass.h) makes of the decomposed GELU exporters write; one oneDNN eltwise (gelu_erf).
  kGelu,
};

// The two attributes of an activation; what they mean depends on the kind.
struct ActivationParams {
  ActivationKind kind = ActivationKind::kRelu;
  // LeakyRelu: negative slope; Clip: lower bound; HardSigmoid: slope; Elu, Selu, Celu: alpha; ThresholdedRelu:
  // threshold; Shrink: lambd.
  float alpha = 0.0f;
  // Clip: upper bound; HardSigmoid: offset; Selu: gamma; Shrink: bias.
  float beta = 0.0f;
};

// One oneDNN eltwise algorithm and its alpha/beta.
struct EltwiseSpec {
  dnnl::algorithm algorithm;
  float alpha, beta;
};
// The oneDNN eltwise steps computing `params`, applied in order (HardSigmoid is linear then clip); empty when
// oneDNN 2.6 has no eltwise form for the kind (Softsign, Erf, Floor, Ceil, Sign, ThresholdedRelu, Shrink), which then
// runs on the host and is never fused.
std::vector<EltwiseSpec> ToEltwise(const ActivationParams& params);

// One eltwise step's oneDNN forward and backward (differentiated at its source) over layout `md`: what
// Activation::Backward runs and the trainer's activation layers build their primitives from.
dnnl::eltwise_forward::desc EltwiseForwardDesc(dnnl::prop_kind prop, const EltwiseSpec& spec,
                                               const dnnl::memory::desc& md);
dnnl::eltwise_backward::desc EltwiseBackwardDesc(const EltwiseSpec& spec, const dnnl::memory::desc& md);

// Whether oneDNN 2.6 computes `chain` correctly as the eltwise post-ops of one primitive. Its JIT kernels keep one set
// of constants per eltwise algorithm, so an algorithm appearing twice with different alpha/beta (Conv → LeakyRelu →
// LeakyRelu, or Neg then HardSigmoid: two linear steps) would run both with the first one's.
bool FusesAsPostOps(const std::vector<EltwiseSpec>& chain);

// The activation applied to one value: the reference definition.
float ApplyActivation(const ActivationParams& params, float x);
// d(activation)/dx at `x`; 0 for the piecewise-constant kinds (Floor, Ceil, Sign, Round).
float ActivationDerivative(const ActivationParams& params, float x);

// The ONNX operator computing `kind` ("HardSigmoid").
std::string_view ActivationName(ActivationKind kind);
// `kind` with ONNX's default attributes (HardSigmoid: alpha 0.2, beta 0.5; Clip: no bounds; ...).
ActivationParams DefaultActivationParams(ActivationKind kind);

}  // namespace fovea::engine::ops
