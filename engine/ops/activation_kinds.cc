// The table of activation kinds: one row per kind with its ONNX name, default attributes, formula, derivative and
// oneDNN eltwise form. Adding an activation is adding a row (and an enumerator in activation_params.h).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>
#include <limits>
#include <numbers>

#include "engine/ops/activation_params.h"

namespace fovea::engine::ops {
namespace {

using Chain = std::vector<EltwiseSpec>;
using dnnl::algorithm;

struct KindRow {
  ActivationKind kind;
  std::string_view name;
  float default_alpha;
  float default_beta;
  float (*apply)(float x, float alpha, float beta);
  float (*derivative)(float x, float alpha, float beta);
  Chain (*eltwise)(float alpha, float beta);  // nullptr: oneDNN 2.6 has no eltwise form
};

// ONNX's defaults.
constexpr float kDefaultLeakyReluSlope = 0.01f;
constexpr float kDefaultHardSigmoidSlope = 0.2f;
constexpr float kDefaultHardSigmoidOffset = 0.5f;
constexpr float kDefaultEluAlpha = 1.0f;
constexpr float kDefaultSeluAlpha = 1.67326319217681884765625f;
constexpr float kDefaultSeluGamma = 1.05070102214813232421875f;
constexpr float kDefaultCeluAlpha = 1.0f;
constexpr float kDefaultThresholdedReluAlpha = 1.0f;
constexpr float kDefaultShrinkLambda = 0.5f;
// HardSwish is x · HardSigmoid(x) with ONNX's fixed slope 1/6 and offset 1/2: linear between ±3.
constexpr float kHardSwishSlope = 1.0f / 6.0f;
constexpr float kHardSwishOffset = 0.5f;
constexpr float kHardSwishEdge = 3.0f;
constexpr float kTwoOverSqrtPi = static_cast<float>(std::numbers::inv_sqrtpi * 2.0);
constexpr float kInverseSqrtTwo = static_cast<float>(1.0 / std::numbers::sqrt2);
constexpr float kInverseSqrtTwoPi = static_cast<float>(std::numbers::inv_sqrtpi / std::numbers::sqrt2);

// Φ(x), the standard normal CDF.
float NormalCdf(float x) { return 0.5f * (1.0f + std::erf(x * kInverseSqrtTwo)); }
float Logistic(float x) { return 1.0f / (1.0f + std::exp(-x)); }
float Softplus(float x) { return x > 0.0f ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
float Elu(float x, float alpha) { return x > 0.0f ? x : alpha * std::expm1(x); }
float EluDerivative(float x, float alpha) { return x > 0.0f ? 1.0f : alpha * std::exp(x); }
float Step(bool condition) { return condition ? 1.0f : 0.0f; }
float Sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }
float Zero(float, float, float) { return 0.0f; }
Chain Single(algorithm kind, float alpha = 0.0f, float beta = 0.0f) { return Chain{{kind, alpha, beta}}; }

constexpr KindRow kKinds[] = {
    {ActivationKind::kRelu, "Relu", 0.0f, 0.0f, [](float x, float, float) { return x > 0.0f ? x : 0.0f; },
     [](float x, float, float) { return Step(x > 0.0f); },
     [](float, float) { return Single(algorithm::eltwise_relu); }},
    {ActivationKind::kLeakyRelu, "LeakyRelu", kDefaultLeakyReluSlope, 0.0f,
     [](float x, float a, float) { return x >= 0.0f ? x : a * x; },
     [](float x, float a, float) { return x >= 0.0f ? 1.0f : a; },
     [](float a, float) { return Single(algorithm::eltwise_relu, a); }},
    {ActivationKind::kClip, "Clip", std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max(),
     [](float x, float a, float b) { return std::min(std::max(x, a), b); },
     [](float x, float a, float b) { return Step(x > a && x < b); },
     [](float a, float b) { return Single(algorithm::eltwise_clip_v2, a, b); }},
    {ActivationKind::kSigmoid, "Sigmoid", 0.0f, 0.0f, [](float x, float, float) { return Logistic(x); },
     [](float x, float, float) { return Logistic(x) * (1.0f - Logistic(x)); },
     [](float, float) { return Single(algorithm::eltwise_logistic); }},
    // oneDNN 2.6 has no hardsigmoid: a·x + b, then clipped to [0, 1].
    {ActivationKind::kHardSigmoid, "HardSigmoid", kDefaultHardSigmoidSlope, kDefaultHardSigmoidOffset,
     [](float x, float a, float b) { return std::min(std::max(a * x + b, 0.0f), 1.0f); },
     [](float x, float a, float b) { return a * Step(a * x + b > 0.0f && a * x + b < 1.0f); },
     [](float a, float b) {
       return Chain{{algorithm::eltwise_linear, a, b}, {algorithm::eltwise_clip_v2, 0.0f, 1.0f}};
     }},
    {ActivationKind::kHardSwish, "HardSwish", 0.0f, 0.0f,
     [](float x, float, float) { return x * std::min(std::max(kHardSwishSlope * x + kHardSwishOffset, 0.0f), 1.0f); },
     [](float x, float, float) {
       if (x < -kHardSwishEdge) return 0.0f;
       return x > kHardSwishEdge ? 1.0f : 2.0f * kHardSwishSlope * x + kHardSwishOffset;
     },
     [](float, float) { return Single(algorithm::eltwise_hardswish); }},
    {ActivationKind::kElu, "Elu", kDefaultEluAlpha, 0.0f, [](float x, float a, float) { return Elu(x, a); },
     [](float x, float a, float) { return EluDerivative(x, a); },
     [](float a, float) { return Single(algorithm::eltwise_elu, a); }},
    // gamma · elu_alpha(x).
    {ActivationKind::kSelu, "Selu", kDefaultSeluAlpha, kDefaultSeluGamma,
     [](float x, float a, float g) { return g * Elu(x, a); },
     [](float x, float a, float g) { return g * EluDerivative(x, a); },
     [](float a, float g) {
       return Chain{{algorithm::eltwise_elu, a, 0.0f}, {algorithm::eltwise_linear, g, 0.0f}};
     }},
    // alpha · elu_1(x / alpha); the first scaling is pow(x, 1)·(1/alpha), not a second linear step (FusesAsPostOps).
    {ActivationKind::kCelu, "Celu", kDefaultCeluAlpha, 0.0f,
     [](float x, float a, float) { return a * Elu(x / a, 1.0f); },
     [](float x, float a, float) { return EluDerivative(x / a, 1.0f); },
     [](float a, float) {
       return Chain{{algorithm::eltwise_pow, 1.0f / a, 1.0f},
                    {algorithm::eltwise_elu, 1.0f, 0.0f},
                    {algorithm::eltwise_linear, a, 0.0f}};
     }},
    {ActivationKind::kTanh, "Tanh", 0.0f, 0.0f, [](float x, float, float) { return std::tanh(x); },
     [](float x, float, float) { return 1.0f - std::tanh(x) * std::tanh(x); },
     [](float, float) { return Single(algorithm::eltwise_tanh); }},
    {ActivationKind::kSoftplus, "Softplus", 0.0f, 0.0f, [](float x, float, float) { return Softplus(x); },
     [](float x, float, float) { return Logistic(x); },
     [](float, float) { return Single(algorithm::eltwise_soft_relu); }},
    {ActivationKind::kSoftsign, "Softsign", 0.0f, 0.0f, [](float x, float, float) { return x / (1.0f + std::abs(x)); },
     [](float x, float, float) { return 1.0f / ((1.0f + std::abs(x)) * (1.0f + std::abs(x))); }, nullptr},
    {ActivationKind::kExp, "Exp", 0.0f, 0.0f, [](float x, float, float) { return std::exp(x); },
     [](float x, float, float) { return std::exp(x); }, [](float, float) { return Single(algorithm::eltwise_exp); }},
    {ActivationKind::kLog, "Log", 0.0f, 0.0f, [](float x, float, float) { return std::log(x); },
     [](float x, float, float) { return 1.0f / x; }, [](float, float) { return Single(algorithm::eltwise_log); }},
    {ActivationKind::kSqrt, "Sqrt", 0.0f, 0.0f, [](float x, float, float) { return std::sqrt(x); },
     [](float x, float, float) { return 0.5f / std::sqrt(x); },
     [](float, float) { return Single(algorithm::eltwise_sqrt); }},
    {ActivationKind::kNeg, "Neg", 0.0f, 0.0f, [](float x, float, float) { return -x; },
     [](float, float, float) { return -1.0f; },
     [](float, float) { return Single(algorithm::eltwise_linear, -1.0f, 0.0f); }},
    {ActivationKind::kAbs, "Abs", 0.0f, 0.0f, [](float x, float, float) { return std::abs(x); },
     [](float x, float, float) { return Sign(x); }, [](float, float) { return Single(algorithm::eltwise_abs); }},
    // oneDNN's pow is alpha · x^beta.
    {ActivationKind::kReciprocal, "Reciprocal", 0.0f, 0.0f, [](float x, float, float) { return 1.0f / x; },
     [](float x, float, float) { return -1.0f / (x * x); },
     [](float, float) { return Single(algorithm::eltwise_pow, 1.0f, -1.0f); }},
    {ActivationKind::kFloor, "Floor", 0.0f, 0.0f, [](float x, float, float) { return std::floor(x); }, Zero, nullptr},
    {ActivationKind::kCeil, "Ceil", 0.0f, 0.0f, [](float x, float, float) { return std::ceil(x); }, Zero, nullptr},
    {ActivationKind::kErf, "Erf", 0.0f, 0.0f, [](float x, float, float) { return std::erf(x); },
     [](float x, float, float) { return kTwoOverSqrtPi * std::exp(-x * x); }, nullptr},
    {ActivationKind::kSign, "Sign", 0.0f, 0.0f, [](float x, float, float) { return Sign(x); }, Zero, nullptr},
    // Round half to even, as ONNX specifies: the default floating-point rounding mode, like oneDNN's round.
    {ActivationKind::kRound, "Round", 0.0f, 0.0f, [](float x, float, float) { return std::nearbyint(x); }, Zero,
     [](float, float) { return Single(algorithm::eltwise_round); }},
    {ActivationKind::kThresholdedRelu, "ThresholdedRelu", kDefaultThresholdedReluAlpha, 0.0f,
     [](float x, float a, float) { return x > a ? x : 0.0f; }, [](float x, float a, float) { return Step(x > a); },
     nullptr},
    {ActivationKind::kShrink, "Shrink", kDefaultShrinkLambda, 0.0f,
     [](float x, float lambda, float bias) { return x < -lambda ? x + bias : (x > lambda ? x - bias : 0.0f); },
     [](float x, float lambda, float) { return Step(x < -lambda || x > lambda); }, nullptr},
    {ActivationKind::kGelu, "Gelu", 0.0f, 0.0f, [](float x, float, float) { return x * NormalCdf(x); },
     [](float x, float, float) { return NormalCdf(x) + x * kInverseSqrtTwoPi * std::exp(-0.5f * x * x); },
     [](float, float) { return Single(algorithm::eltwise_gelu_erf); }},
};

constexpr bool RowsFollowEnumOrder() {
  for (size_t i = 0; i < std::size(kKinds); ++i) {
    if (static_cast<size_t>(kKinds[i].kind) != i) return false;
  }
  return true;
}
static_assert(RowsFollowEnumOrder(), "kKinds must list the kinds in ActivationKind's order");
static_assert(std::size(kKinds) == static_cast<size_t>(ActivationKind::kGelu) + 1, "every kind needs a row");

const KindRow& Row(ActivationKind kind) { return kKinds[static_cast<size_t>(kind)]; }

}  // namespace

std::vector<EltwiseSpec> ToEltwise(const ActivationParams& params) {
  const KindRow& row = Row(params.kind);
  return row.eltwise == nullptr ? Chain{} : row.eltwise(params.alpha, params.beta);
}

bool FusesAsPostOps(const std::vector<EltwiseSpec>& chain) {
  for (size_t i = 0; i < chain.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const bool same_algorithm = chain[j].algorithm == chain[i].algorithm;
      if (same_algorithm && (chain[j].alpha != chain[i].alpha || chain[j].beta != chain[i].beta)) return false;
    }
  }
  return true;
}

float ApplyActivation(const ActivationParams& params, float x) {
  return Row(params.kind).apply(x, params.alpha, params.beta);
}

float ActivationDerivative(const ActivationParams& params, float x) {
  return Row(params.kind).derivative(x, params.alpha, params.beta);
}

std::string_view ActivationName(ActivationKind kind) { return Row(kind).name; }

ActivationParams DefaultActivationParams(ActivationKind kind) {
  const KindRow& row = Row(kind);
  return {kind, row.default_alpha, row.default_beta};
}

dnnl::eltwise_forward::desc EltwiseForwardDesc(dnnl::prop_kind prop, const EltwiseSpec& spec,
                                               const dnnl::memory::desc& md) {
  return {prop, spec.algorithm, md, spec.alpha, spec.beta};
}

dnnl::eltwise_backward::desc EltwiseBackwardDesc(const EltwiseSpec& spec, const dnnl::memory::desc& md) {
  return {spec.algorithm, md, md, spec.alpha, spec.beta};
}

}  // namespace fovea::engine::ops
