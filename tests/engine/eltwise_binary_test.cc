// Elementwise ops with several operands: Pow, Min and Max of two operands, variadic Sum/Mean/Min/Max and PRelu, on
// oneDNN (or host steps) against their reference kernels, with hand-computed values and gradient checks (gradients of
// broadcast operands summed over their broadcast axes).

#include <gtest/gtest.h>

#include "engine/ops/binary.h"
#include "engine/ops/prelu.h"
#include "engine/ops/variadic.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using BinaryKind = ops::BinaryParams::Kind;
using VariadicKind = ops::VariadicParams::Kind;

// Positive bases keep Pow real for any exponent, and divisors away from zero keep Div's gradient tame.
constexpr float kLowBase = 0.5f;
constexpr float kHighBase = 2.0f;

struct PairCase {
  std::string name;
  Shape a, b;
};

const PairCase kPairCases[] = {
    {"SameShape", {2, 3, 4, 5}, {2, 3, 4, 5}},   {"PerChannelB", {2, 3, 4, 5}, {3, 1, 1}},
    {"PerChannelA", {1, 3, 1, 1}, {2, 3, 4, 5}}, {"ScalarB", {2, 3}, {}},
    {"BothBroadcast", {3, 1}, {1, 4}},           {"RankDiffers", {5}, {2, 3, 5}},
};

// Operands for `kind`: Pow gets positive bases, Div divisors away from zero.
std::vector<Tensor> PairOperands(BinaryKind kind, const PairCase& c) {
  Tensor a = kind == BinaryKind::kPow ? RandomTensor(c.a, 21, kLowBase, kHighBase) : RandomTensor(c.a, 21);
  Tensor b = RandomTensor(c.b, 22);
  if (kind == BinaryKind::kDiv) {
    for (float& v : b.floats()) v = v < 0 ? v - kLowBase : v + kLowBase;
  }
  return {a, b};
}

class BinaryKindTest : public ::testing::TestWithParam<std::tuple<PairCase, BinaryKind>> {};

TEST_P(BinaryKindTest, OneDnnMatchesReference) {
  const auto& [c, kind] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> op, ops::Binary::Create({kind}));
  const auto operands = PairOperands(kind, c);
  EXPECT_TRUE(EmitMatchesReference(op, {Runtime(operands[0]), Runtime(operands[1])}));
  EXPECT_TRUE(EmitMatchesReference(op, {Runtime(operands[0]), Constant(operands[1])}));
  EXPECT_TRUE(EmitMatchesReference(op, {Constant(operands[0]), Runtime(operands[1])}));
}

TEST_P(BinaryKindTest, BackwardMatchesFiniteDifferences) {
  const auto& [c, kind] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Binary::Create({kind}));
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, PairOperands(kind, c), {0, 1}));
}

INSTANTIATE_TEST_SUITE_P(Broadcast, BinaryKindTest,
                         ::testing::Combine(::testing::ValuesIn(kPairCases),
                                            ::testing::Values(BinaryKind::kAdd, BinaryKind::kSub, BinaryKind::kMul,
                                                              BinaryKind::kDiv, BinaryKind::kPow, BinaryKind::kMin,
                                                              BinaryKind::kMax)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" +
                                  std::string(ops::BinaryName(std::get<1>(info.param)));
                         });

TEST(BinaryEltwise, ReferenceValues) {
  const auto pow = ops::Binary::Create({BinaryKind::kPow}).value();
  const auto min = ops::Binary::Create({BinaryKind::kMin}).value();
  const auto max = ops::Binary::Create({BinaryKind::kMax}).value();
  const Tensor a = Floats({2, 2}, {2.0f, -3.0f, 4.0f, 0.5f});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto cubed, pow->Reference(std::vector<Tensor>{a, Floats({}, {3.0f})}));
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {8.0f, -27.0f, 64.0f, 0.125f}), cubed[0]));
  // An integer exponent (opset 12) raises a float base.
  FOVEA_ASSERT_OK_AND_ASSIGN(auto squared, pow->Reference(std::vector<Tensor>{a, Int64s({2}, {2, 1})}));
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {4.0f, -3.0f, 16.0f, 0.5f}), squared[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto ints, pow->Reference(std::vector<Tensor>{Int64s({3}, {2, 3, -2}), Int64s({}, {3})}));
  EXPECT_EQ(std::vector<int64_t>(ints[0].int64s().begin(), ints[0].int64s().end()), (std::vector<int64_t>{8, 27, -8}));
  const Tensor column = Floats({2, 1}, {1.0f, 3.0f});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto low, min->Reference(std::vector<Tensor>{a, column}));
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {1.0f, -3.0f, 3.0f, 0.5f}), low[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto high, max->Reference(std::vector<Tensor>{a, column}));
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {2.0f, 1.0f, 4.0f, 3.0f}), high[0]));
}

TEST(BinaryEltwise, PowByAConstantScalarMatchesReferenceOnNegativeBases) {
  // Negative bases with integer exponents are real: oneDNN's eltwise pow must agree with std::pow there.
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> pow, ops::Binary::Create({BinaryKind::kPow}));
  const Tensor x = RandomTensor({2, 3, 4, 5}, 31, -2.0f, 2.0f);
  for (float exponent : {3.0f, 2.0f, -1.0f, 0.0f, 1.0f}) {
    EXPECT_TRUE(EmitMatchesReference(pow, {Runtime(x), Constant(Floats({}, {exponent}))})) << "exponent " << exponent;
  }
  EXPECT_TRUE(EmitMatchesReference(pow, {Runtime(x), Constant(Int64s({1, 1}, {3}))}));
  const Tensor positive = RandomTensor({2, 3, 4, 5}, 32, kLowBase, kHighBase);
  EXPECT_TRUE(EmitMatchesReference(pow, {Runtime(positive), Constant(Floats({1}, {0.5f}))}));
  EXPECT_TRUE(EmitMatchesReference(pow, {Runtime(positive), Constant(Floats({1}, {-2.7f}))}));
}

TEST(BinaryEltwise, OnlyAddIsAResidualSum) {
  EXPECT_TRUE(ops::Binary::Create({BinaryKind::kAdd}).value()->IsResidualSum());
  for (BinaryKind kind :
       {BinaryKind::kSub, BinaryKind::kMul, BinaryKind::kDiv, BinaryKind::kPow, BinaryKind::kMin, BinaryKind::kMax}) {
    EXPECT_FALSE(ops::Binary::Create({kind}).value()->IsResidualSum()) << ops::BinaryName(kind);
  }
  EXPECT_TRUE(ops::Binary::Create({BinaryKind::kMul}).value()->Geometry({}).ok());
}

TEST(BinaryEltwise, MinGradientGoesToTheChosenOperand) {
  const auto min = ops::Binary::Create({BinaryKind::kMin}).value();
  const std::vector<Tensor> inputs = {Floats({3}, {1.0f, 5.0f, 2.0f}), Floats({1}, {3.0f})};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto grads, min->Backward(inputs, {}, std::vector<Tensor>{Floats({3}, {1, 2, 4})}, {}));
  EXPECT_TRUE(TensorsNear(Floats({3}, {1.0f, 0.0f, 4.0f}), grads[0]));
  EXPECT_TRUE(TensorsNear(Floats({1}, {2.0f}), grads[1]));  // summed over the broadcast axis
}

// Variadic Sum/Mean/Min/Max.

struct VariadicCase {
  std::string name;
  std::vector<Shape> shapes;
};

const VariadicCase kVariadicCases[] = {
    {"One", {{2, 3, 4, 5}}},
    {"TwoSame", {{2, 3, 4, 5}, {2, 3, 4, 5}}},
    {"FourSame", {{1, 16, 5, 5}, {1, 16, 5, 5}, {1, 16, 5, 5}, {1, 16, 5, 5}}},
    {"ThreeBroadcast", {{2, 3, 4, 5}, {3, 1, 1}, {5}}},
    {"GrowsFromLater", {{3, 1}, {1, 4}, {2, 3, 4}}},
    {"Scalars", {{}, {}, {}}},
};

std::vector<Tensor> VariadicOperands(const VariadicCase& c) {
  std::vector<Tensor> operands;
  for (size_t i = 0; i < c.shapes.size(); ++i) operands.push_back(RandomTensor(c.shapes[i], 40 + i));
  return operands;
}

class VariadicTest : public ::testing::TestWithParam<std::tuple<VariadicCase, VariadicKind>> {};

TEST_P(VariadicTest, OneDnnMatchesReference) {
  const auto& [c, kind] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> op, ops::Variadic::Create({kind}));
  std::vector<Operand> runtime, last_constant;
  for (const Tensor& t : VariadicOperands(c)) {
    runtime.push_back(Runtime(t));
    last_constant.push_back(Runtime(t));
  }
  EXPECT_TRUE(EmitMatchesReference(op, runtime));
  if (last_constant.size() > 1) {
    last_constant.back().constant = true;
    EXPECT_TRUE(EmitMatchesReference(op, last_constant));
  }
}

TEST_P(VariadicTest, BackwardMatchesFiniteDifferences) {
  const auto& [c, kind] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Variadic::Create({kind}));
  std::vector<size_t> all(c.shapes.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, VariadicOperands(c), all));
}

INSTANTIATE_TEST_SUITE_P(Shapes, VariadicTest,
                         ::testing::Combine(::testing::ValuesIn(kVariadicCases),
                                            ::testing::Values(VariadicKind::kSum, VariadicKind::kMean,
                                                              VariadicKind::kMin, VariadicKind::kMax)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" +
                                  std::string(ops::VariadicName(std::get<1>(info.param)));
                         });

TEST(VariadicEltwise, ReferenceValues) {
  const std::vector<Tensor> inputs = {Floats({3}, {3.0f, 2.0f, 1.0f}), Floats({3}, {1.0f, 4.0f, 4.0f}),
                                      Floats({1}, {2.0f})};
  const std::pair<VariadicKind, Tensor> expected[] = {
      {VariadicKind::kSum, Floats({3}, {6.0f, 8.0f, 7.0f})},
      {VariadicKind::kMean, Floats({3}, {2.0f, 8.0f / 3.0f, 7.0f / 3.0f})},
      {VariadicKind::kMin, Floats({3}, {1.0f, 2.0f, 1.0f})},
      {VariadicKind::kMax, Floats({3}, {3.0f, 4.0f, 4.0f})},
  };
  for (const auto& [kind, want] : expected) {
    FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Variadic::Create({kind}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto y, op->Reference(inputs));
    EXPECT_TRUE(TensorsNear(want, y[0])) << ops::VariadicName(kind);
  }
  // Shape arithmetic folds on int64.
  FOVEA_ASSERT_OK_AND_ASSIGN(auto max, ops::Variadic::Create({VariadicKind::kMax}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, max->Reference(std::vector<Tensor>{Int64s({2}, {1, 7}), Int64s({2}, {5, 2})}));
  EXPECT_EQ(std::vector<int64_t>(y[0].int64s().begin(), y[0].int64s().end()), (std::vector<int64_t>{5, 7}));
}

TEST(VariadicEltwise, MaxGradientGoesToTheFirstMaximum) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto max, ops::Variadic::Create({VariadicKind::kMax}));
  const std::vector<Tensor> inputs = {Floats({2}, {1.0f, 4.0f}), Floats({2}, {3.0f, 4.0f}), Floats({2}, {2.0f, 0.0f})};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto grads, max->Backward(inputs, {}, std::vector<Tensor>{Floats({2}, {1.0f, 2.0f})}, {}));
  ASSERT_EQ(grads.size(), 3u);
  EXPECT_TRUE(TensorsNear(Floats({2}, {0.0f, 2.0f}), grads[0]));
  EXPECT_TRUE(TensorsNear(Floats({2}, {1.0f, 0.0f}), grads[1]));
  EXPECT_TRUE(TensorsNear(Floats({2}, {0.0f, 0.0f}), grads[2]));
}

// PRelu.

class PReluTest : public ::testing::TestWithParam<std::tuple<Shape, bool>> {};

TEST_P(PReluTest, OneDnnMatchesReference) {
  const auto& [slope_shape, constant_slope] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> op, ops::PRelu::Create());
  const Tensor slope = RandomTensor(slope_shape, 52);
  EXPECT_TRUE(EmitMatchesReference(
      op, {Runtime(RandomTensor({2, 3, 4, 5}, 51)), constant_slope ? Constant(slope) : Runtime(slope)}));
}

TEST_P(PReluTest, BackwardMatchesFiniteDifferences) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::PRelu::Create());
  const std::vector<Tensor> inputs = {RandomTensor({2, 3, 4, 5}, 53), RandomTensor(std::get<0>(GetParam()), 54)};
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs, {0, 1}));
}

INSTANTIATE_TEST_SUITE_P(SlopeShapes, PReluTest,
                         ::testing::Combine(::testing::Values(Shape{3, 1, 1}, Shape{1}, Shape{5}, Shape{4, 5},
                                                              Shape{2, 3, 4, 5}, Shape{1, 3, 1, 5}),
                                            ::testing::Bool()));

TEST(PReluEltwise, ReferenceValuesAndShapeChecks) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::PRelu::Create());
  const std::vector<Tensor> inputs = {Floats({1, 2, 1, 2}, {-1.0f, 2.0f, -3.0f, 4.0f}),
                                      Floats({2, 1, 1}, {0.5f, 0.1f})};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, op->Reference(inputs));
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 1, 2}, {-0.5f, 2.0f, -0.3f, 4.0f}), y[0]));
  // The slope broadcasts to X, never X to the slope.
  EXPECT_FALSE(op->Reference(std::vector<Tensor>{Floats({2}, {1, 2}), Floats({3, 2}, {1, 2, 3, 4, 5, 6})}).ok());
  EXPECT_FALSE(op->FusedActivation({}).has_value());
  EXPECT_TRUE(op->Geometry({}).ok());
}

}  // namespace
}  // namespace fovea::engine::testing
