// Elementwise activations and unary math: the reference formulas against hand-computed values, oneDNN eltwise chains
// and host steps against the reference, the derivatives against finite differences, and their fusion into Conv.

#include <cmath>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "engine/ops/activation.h"
#include "engine/ops/conv.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::ActivationKind;
using ops::ActivationParams;

// Every kind, with ONNX's default attributes except where a non-default value exercises the attribute.
const ActivationParams kAllKinds[] = {
    {ActivationKind::kRelu},
    {ActivationKind::kLeakyRelu, 0.1f},
    {ActivationKind::kClip, -1.0f, 2.0f},
    {ActivationKind::kSigmoid},
    ops::DefaultActivationParams(ActivationKind::kHardSigmoid),
    {ActivationKind::kHardSigmoid, 0.3f, 0.4f},
    {ActivationKind::kHardSwish},
    ops::DefaultActivationParams(ActivationKind::kElu),
    {ActivationKind::kElu, 0.5f},
    ops::DefaultActivationParams(ActivationKind::kSelu),
    ops::DefaultActivationParams(ActivationKind::kCelu),
    {ActivationKind::kCelu, 2.0f},
    {ActivationKind::kTanh},
    {ActivationKind::kSoftplus},
    {ActivationKind::kSoftsign},
    {ActivationKind::kExp},
    {ActivationKind::kLog},
    {ActivationKind::kSqrt},
    {ActivationKind::kNeg},
    {ActivationKind::kAbs},
    {ActivationKind::kReciprocal},
    {ActivationKind::kFloor},
    {ActivationKind::kCeil},
    {ActivationKind::kErf},
    {ActivationKind::kSign},
    {ActivationKind::kRound},
    ops::DefaultActivationParams(ActivationKind::kThresholdedRelu),
    {ActivationKind::kShrink, 0.5f, 0.25f},
    {ActivationKind::kGelu},
};

std::string ParamsName(const ActivationParams& p) {
  std::string name(ops::ActivationName(p.kind));
  const ActivationParams defaults = ops::DefaultActivationParams(p.kind);
  if (p.alpha != defaults.alpha || p.beta != defaults.beta) name += "Custom";
  return name;
}

// Kinds defined only for positive inputs.
bool NeedsPositiveInput(ActivationKind kind) {
  return kind == ActivationKind::kLog || kind == ActivationKind::kSqrt || kind == ActivationKind::kReciprocal;
}

// Random inputs in the kind's domain. For gradient checks, values are kept 0.05 away from every multiple of 0.5: the
// kinks and jumps of all kinds here (0, Clip's ±1 and 2, HardSigmoid's ±2.5, HardSwish's ±3, Round's half-integers,
// Floor's integers, ThresholdedRelu's 1, Shrink's ±0.5) sit there.
Tensor InputFor(const ActivationParams& p, const Shape& shape, uint32_t seed, bool away_from_kinks) {
  constexpr float kRange = 3.5f;
  constexpr float kSmallestPositive = 0.2f;
  constexpr float kKinkSpacing = 0.5f;
  constexpr float kKinkMargin = 0.05f;
  Tensor x = NeedsPositiveInput(p.kind) ? RandomTensor(shape, seed, kSmallestPositive, kRange)
                                        : RandomTensor(shape, seed, -kRange, kRange);
  if (!away_from_kinks) return x;
  for (float& v : x.floats()) {
    const float nearest = std::round(v / kKinkSpacing) * kKinkSpacing;
    if (std::abs(v - nearest) < kKinkMargin) v = nearest + (v >= nearest ? kKinkMargin : -kKinkMargin);
  }
  return x;
}

struct ValueCase {
  ActivationParams params;
  float x;
  float expected;
};

class ActivationValueTest : public ::testing::TestWithParam<ValueCase> {};

TEST_P(ActivationValueTest, ReferenceComputesTheOnnxFormula) {
  const ValueCase& c = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Activation::Create(c.params));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, op->Reference(std::vector<Tensor>{Floats({1}, {c.x})}));
  EXPECT_NEAR(y[0].floats()[0], c.expected, 1e-6f * std::max(1.0f, std::abs(c.expected)))
      << ops::ActivationName(c.params.kind) << "(" << c.x << ")";
}

const ValueCase kValueCases[] = {
    {ops::DefaultActivationParams(ActivationKind::kHardSigmoid), -3.0f, 0.0f},
    {ops::DefaultActivationParams(ActivationKind::kHardSigmoid), 1.0f, 0.7f},
    {ops::DefaultActivationParams(ActivationKind::kHardSigmoid), 3.0f, 1.0f},
    {{ActivationKind::kHardSwish}, -4.0f, 0.0f},
    {{ActivationKind::kHardSwish}, 1.0f, 2.0f / 3.0f},
    {{ActivationKind::kHardSwish}, 4.0f, 4.0f},
    {ops::DefaultActivationParams(ActivationKind::kElu), -1.0f, -0.63212056f},
    {ops::DefaultActivationParams(ActivationKind::kElu), 2.0f, 2.0f},
    {ops::DefaultActivationParams(ActivationKind::kSelu), -1.0f, -1.11133074f},
    {ops::DefaultActivationParams(ActivationKind::kSelu), 2.0f, 2.10140204f},
    {{ActivationKind::kCelu, 2.0f}, -1.0f, -0.78693868f},
    {{ActivationKind::kCelu, 2.0f}, 3.0f, 3.0f},
    {{ActivationKind::kTanh}, 0.5f, 0.46211716f},
    {{ActivationKind::kSoftplus}, 0.0f, 0.69314718f},
    {{ActivationKind::kSoftplus}, 100.0f, 100.0f},  // no overflow of exp
    {{ActivationKind::kSoftsign}, 3.0f, 0.75f},
    {{ActivationKind::kSoftsign}, -1.0f, -0.5f},
    {{ActivationKind::kExp}, 1.0f, 2.71828183f},
    {{ActivationKind::kLog}, 2.71828183f, 1.0f},
    {{ActivationKind::kSqrt}, 4.0f, 2.0f},
    {{ActivationKind::kNeg}, 3.0f, -3.0f},
    {{ActivationKind::kAbs}, -2.0f, 2.0f},
    {{ActivationKind::kReciprocal}, 4.0f, 0.25f},
    {{ActivationKind::kFloor}, -1.5f, -2.0f},
    {{ActivationKind::kCeil}, -1.5f, -1.0f},
    {{ActivationKind::kErf}, 0.5f, 0.52049988f},
    {{ActivationKind::kSign}, -3.0f, -1.0f},
    {{ActivationKind::kSign}, 0.0f, 0.0f},
    {{ActivationKind::kRound}, 2.5f, 2.0f},  // half to even
    {{ActivationKind::kRound}, -1.5f, -2.0f},
    {{ActivationKind::kRound}, 0.6f, 1.0f},
    {ops::DefaultActivationParams(ActivationKind::kThresholdedRelu), 0.5f, 0.0f},
    {ops::DefaultActivationParams(ActivationKind::kThresholdedRelu), 2.0f, 2.0f},
    {{ActivationKind::kShrink, 0.5f, 0.1f}, 1.0f, 0.9f},
    {{ActivationKind::kShrink, 0.5f, 0.1f}, -1.0f, -0.9f},
    {{ActivationKind::kShrink, 0.5f, 0.1f}, 0.3f, 0.0f},
    {ops::DefaultActivationParams(ActivationKind::kLeakyRelu), -2.0f, -0.02f},
    {ops::DefaultActivationParams(ActivationKind::kClip), -1e30f, -1e30f},  // no bounds by default
};

INSTANTIATE_TEST_SUITE_P(Formulas, ActivationValueTest, ::testing::ValuesIn(kValueCases));

class ActivationKindTest : public ::testing::TestWithParam<std::tuple<ActivationParams, Shape>> {};

TEST_P(ActivationKindTest, OneDnnMatchesReference) {
  const auto& [params, shape] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> op, ops::Activation::Create(params));
  EXPECT_TRUE(EmitMatchesReference(op, {Runtime(InputFor(params, shape, 5, /*away_from_kinks=*/false))}));
}

TEST_P(ActivationKindTest, BackwardMatchesFiniteDifferences) {
  const auto& [params, shape] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Activation::Create(params));
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, {InputFor(params, shape, 6, /*away_from_kinks=*/true)}));
}

TEST_P(ActivationKindTest, IsPointwise) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Activation::Create(std::get<0>(GetParam())));
  FOVEA_ASSERT_OK_AND_ASSIGN(const SpatialGeometry g, op->Geometry({}));
  EXPECT_EQ(g.stride, (std::array<int64_t, 2>{1, 1}));
  EXPECT_EQ(g.window, (std::array<int64_t, 2>{1, 1}));
  EXPECT_FALSE(g.global);
}

TEST_P(ActivationKindTest, FusesExactlyWhenOneDnnHasAnEltwiseForm) {
  const ActivationParams& params = std::get<0>(GetParam());
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Activation::Create(params));
  const std::optional<ActivationParams> fused = op->FusedActivation({});
  ASSERT_EQ(fused.has_value(), !ops::ToEltwise(params).empty());
  if (fused) {
    EXPECT_EQ(fused->kind, params.kind);
    EXPECT_EQ(fused->alpha, params.alpha);
    EXPECT_EQ(fused->beta, params.beta);
  }
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ActivationKindTest,
                         ::testing::Combine(::testing::ValuesIn(kAllKinds),
                                            ::testing::Values(Shape{2, 3, 4, 5}, Shape{1, 16, 5, 5}, Shape{7})),
                         [](const auto& info) {
                           const Shape& s = std::get<1>(info.param);
                           return ParamsName(std::get<0>(info.param)) + "_Rank" + std::to_string(s.size()) + "_" +
                                  std::to_string(info.index);
                         });

TEST(ActivationEltwise, ChainsWhereOneDnnHasNoSingleAlgorithm) {
  const auto hard_sigmoid = ops::ToEltwise({ActivationKind::kHardSigmoid, 0.2f, 0.5f});
  ASSERT_EQ(hard_sigmoid.size(), 2u);
  EXPECT_EQ(hard_sigmoid[0].algorithm, dnnl::algorithm::eltwise_linear);
  EXPECT_EQ(hard_sigmoid[0].alpha, 0.2f);
  EXPECT_EQ(hard_sigmoid[0].beta, 0.5f);
  EXPECT_EQ(hard_sigmoid[1].algorithm, dnnl::algorithm::eltwise_clip_v2);
  EXPECT_EQ(hard_sigmoid[1].alpha, 0.0f);
  EXPECT_EQ(hard_sigmoid[1].beta, 1.0f);
  EXPECT_EQ(ops::ToEltwise(ops::DefaultActivationParams(ActivationKind::kSelu)).size(), 2u);
  EXPECT_EQ(ops::ToEltwise({ActivationKind::kRelu}).size(), 1u);
  for (ActivationKind host_only : {ActivationKind::kSoftsign, ActivationKind::kErf, ActivationKind::kFloor,
                                   ActivationKind::kCeil, ActivationKind::kSign}) {
    EXPECT_TRUE(ops::ToEltwise({host_only}).empty()) << ops::ActivationName(host_only);
  }
}

TEST(ActivationEltwise, DefaultsAreOnnxs) {
  const ActivationParams selu = ops::DefaultActivationParams(ActivationKind::kSelu);
  EXPECT_EQ(selu.alpha, 1.67326319217681884765625f);
  EXPECT_EQ(selu.beta, 1.05070102214813232421875f);
  const ActivationParams hard_sigmoid = ops::DefaultActivationParams(ActivationKind::kHardSigmoid);
  EXPECT_EQ(hard_sigmoid.alpha, 0.2f);
  EXPECT_EQ(hard_sigmoid.beta, 0.5f);
  EXPECT_EQ(ops::DefaultActivationParams(ActivationKind::kLeakyRelu).alpha, 0.01f);
  EXPECT_EQ(ops::ActivationName(ActivationKind::kHardSwish), "HardSwish");
}

TEST(ActivationEltwise, ClipFusesWithItsConstantBounds) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto clip, ops::Activation::Create(ops::DefaultActivationParams(ActivationKind::kClip)));
  const std::vector<Tensor> bounds = {Floats({}, {0.0f}), Floats({}, {6.0f})};
  const std::optional<ActivationParams> fused = clip->FusedActivation(bounds);
  ASSERT_TRUE(fused.has_value());
  EXPECT_EQ(fused->alpha, 0.0f);
  EXPECT_EQ(fused->beta, 6.0f);
  EXPECT_FALSE(clip->FusedActivation(std::vector<Tensor>{Floats({2}, {0.0f, 1.0f})}).has_value());
}

TEST(ActivationEltwise, ClipBackwardUsesItsBoundInputs) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto clip, ops::Activation::Create(ops::DefaultActivationParams(ActivationKind::kClip)));
  const std::vector<Tensor> inputs = {Floats({4}, {-2.0f, -0.5f, 0.5f, 2.0f}), Floats({}, {-1.0f}), Tensor()};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto grads,
                             clip->Backward(inputs, {}, std::vector<Tensor>{Floats({4}, {1, 1, 1, 1})}, {}));
  ASSERT_EQ(grads.size(), 3u);
  EXPECT_TRUE(TensorsNear(Floats({4}, {0.0f, 1.0f, 1.0f, 1.0f}), grads[0]));
  EXPECT_FALSE(grads[1].has_data());
}

TEST(ActivationEltwise, CeluRejectsZeroAlpha) {
  EXPECT_FALSE(ops::Activation::Create({ActivationKind::kCelu, 0.0f}).ok());
}

// Conv with activations as post-ops: chains are fused as several eltwise post-ops; kinds without an eltwise form
// (and everything after them) run as separate steps after the convolution.
class ConvPostOpTest : public ::testing::TestWithParam<std::vector<ActivationParams>> {};

TEST_P(ConvPostOpTest, MatchesReference) {
  ops::ConvParams params;
  params.window.pads_begin = {1, 1};
  params.window.pads_end = {1, 1};
  for (const auto& activation : GetParam()) params.post_ops.push_back(ops::ConvPostOp::Act(activation));
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> conv, ops::Conv::Create(params));
  EXPECT_TRUE(EmitMatchesReference(conv, {Runtime(RandomTensor({2, 8, 6, 6}, 1)),
                                          Constant(RandomTensor({16, 8, 3, 3}, 2)), Constant(RandomTensor({16}, 3))}));
}

INSTANTIATE_TEST_SUITE_P(
    Chains, ConvPostOpTest,
    ::testing::Values(
        std::vector<ActivationParams>{ops::DefaultActivationParams(ActivationKind::kHardSigmoid)},
        std::vector<ActivationParams>{ops::DefaultActivationParams(ActivationKind::kSelu)},
        std::vector<ActivationParams>{{ActivationKind::kCelu, 2.0f}},
        std::vector<ActivationParams>{{ActivationKind::kHardSwish}},
        std::vector<ActivationParams>{{ActivationKind::kSoftsign}},
        std::vector<ActivationParams>{{ActivationKind::kErf}, {ActivationKind::kRelu}},
        std::vector<ActivationParams>{{ActivationKind::kTanh}, {ActivationKind::kFloor}},
        std::vector<ActivationParams>{{ActivationKind::kHardSigmoid, 0.2f, 0.5f},
                                      {ActivationKind::kHardSigmoid, 0.3f, 0.4f}},
        std::vector<ActivationParams>{{ActivationKind::kElu, 0.5f}, {ActivationKind::kElu, 2.0f}},
        std::vector<ActivationParams>{{ActivationKind::kLeakyRelu, 0.5f}, {ActivationKind::kLeakyRelu, 0.1f}},
        std::vector<ActivationParams>{{ActivationKind::kNeg}, {ActivationKind::kHardSigmoid, 0.3f, 0.4f}},
        std::vector<ActivationParams>{{ActivationKind::kHardSigmoid, 0.3f, 0.4f}, {ActivationKind::kNeg}}));

}  // namespace
}  // namespace fovea::engine::testing
