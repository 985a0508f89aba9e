#pragma once
// What an elementwise activation computes, as a value: the Activation op runs it, and a convolution runs the same
// description as oneDNN eltwise post-ops when the inference passes fuse the two (Op::FusedActivation).

#include <oneapi/dnnl/dnnl.hpp>

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

}  // namespace fovea::engine::ops
