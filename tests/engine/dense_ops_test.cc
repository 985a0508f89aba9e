// BatchNormalization, Gemm, MatMul, binary arithmetic, Softmax and Concat on oneDNN against their reference kernels.

#include <gtest/gtest.h>

#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/concat.h"
#include "engine/ops/gemm.h"
#include "engine/ops/matmul.h"
#include "engine/ops/softmax.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

// Which operands of a case are plan-time constants: none, the weights-like ones, or all but the first.
enum class Constness { kAllRuntime, kWeightsConstant, kFirstConstant };

std::string ConstnessName(Constness c) {
  switch (c) {
    case Constness::kAllRuntime:
      return "AllRuntime";
    case Constness::kWeightsConstant:
      return "WeightsConstant";
    case Constness::kFirstConstant:
      return "FirstConstant";
  }
  return "";
}

// Operands from `shapes` (an empty optional shape list entry means absent), random values with distinct seeds.
std::vector<Operand> MakeOperands(const std::vector<std::optional<Shape>>& shapes, Constness constness) {
  std::vector<Operand> operands;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (!shapes[i]) {
      operands.push_back(Absent());
      continue;
    }
    Tensor t = RandomTensor(*shapes[i], static_cast<uint32_t>(11 + i));
    const bool constant =
        (constness == Constness::kWeightsConstant && i > 0) || (constness == Constness::kFirstConstant && i == 0);
    operands.push_back(constant ? Constant(t) : Runtime(t));
  }
  return operands;
}

struct GemmCase {
  std::string name;
  ops::GemmParams params;
  Shape a, b;
  std::optional<Shape> c;
};

class GemmTest : public ::testing::TestWithParam<std::tuple<GemmCase, Constness>> {};

TEST_P(GemmTest, OneDnnMatchesReference) {
  const auto& [c, constness] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> gemm, ops::Gemm::Create(c.params));
  EXPECT_TRUE(EmitMatchesReference(gemm, MakeOperands({c.a, c.b, c.c}, constness)));
}

// The shapes and attributes of ONNX's test_gemm_* conformance cases, plus column and broadcast-row C.
const GemmCase kGemmCases[] = {
    {"DefaultNoBias", {}, {2, 10}, {10, 3}, std::nullopt},
    {"AllAttributes", {.alpha = 0.25f, .beta = 0.35f, .trans_a = true, .trans_b = true}, {4, 3}, {5, 4}, Shape{1, 5}},
    {"Alpha", {.alpha = 0.5f}, {3, 5}, {5, 4}, Shape{1, 4}},
    {"Beta", {.beta = 0.5f}, {2, 7}, {7, 4}, Shape{1, 4}},
    {"MatrixBias", {}, {3, 6}, {6, 4}, Shape{3, 4}},
    {"ScalarBias", {}, {2, 3}, {3, 4}, Shape{}},
    {"SingleElementVectorBias", {}, {3, 7}, {7, 3}, Shape{1}},
    {"VectorBias", {}, {2, 7}, {7, 4}, Shape{4}},
    {"ColumnBias", {.beta = 2.0f}, {5, 3}, {3, 6}, Shape{5, 1}},
    {"TransposeA", {.trans_a = true}, {6, 3}, {6, 4}, Shape{3, 4}},
    {"TransposeB", {.trans_b = true}, {3, 6}, {4, 6}, Shape{3, 4}},
    {"AlphaBetaMatrixBias", {.alpha = 3.0f, .beta = -1.5f}, {4, 8}, {8, 5}, Shape{4, 5}},
    {"ZeroBeta", {.beta = 0.0f}, {2, 3}, {3, 2}, Shape{2, 2}},
    {"Classifier", {.trans_b = true}, {16, 128}, {10, 128}, Shape{10}},
};

INSTANTIATE_TEST_SUITE_P(Onnx, GemmTest,
                         ::testing::Combine(::testing::ValuesIn(kGemmCases),
                                            ::testing::Values(Constness::kAllRuntime, Constness::kWeightsConstant,
                                                              Constness::kFirstConstant)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + ConstnessName(std::get<1>(info.param));
                         });

TEST(GemmTest, MismatchedShapesNameTheNodeAndShapes) {
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> gemm, ops::Gemm::Create({}));
  const Tensor a = RandomTensor({2, 3}, 1);
  auto result = RunSession(OneNodeGraph(gemm, {Runtime(a), Constant(RandomTensor({4, 5}, 2))}), {a});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(StatusCode::kInvalidArgument, result.status().code());
  EXPECT_NE(std::string::npos, result.status().message().find("node 'node' (Gemm)")) << result.status().ToString();
  EXPECT_NE(std::string::npos, result.status().message().find("[2, 3]")) << result.status().ToString();
}

struct ShapesCase {
  std::string name;
  Shape a, b;
};

class MatMulTest : public ::testing::TestWithParam<std::tuple<ShapesCase, Constness>> {};

TEST_P(MatMulTest, OneDnnMatchesReference) {
  const auto& [c, constness] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> matmul, ops::MatMul::Create());
  EXPECT_TRUE(EmitMatchesReference(matmul, MakeOperands({c.a, c.b}, constness)));
}

const ShapesCase kMatMulCases[] = {
    {"Matrix", {3, 4}, {4, 5}},
    {"Batched", {2, 3, 4}, {2, 4, 5}},
    {"BroadcastB", {2, 3, 4}, {4, 5}},
    {"BroadcastBoth", {2, 1, 3, 4}, {3, 4, 2}},
    {"VectorA", {4}, {4, 5}},
    {"VectorB", {2, 3, 4}, {4}},
    {"VectorBoth", {6}, {6}},
    {"BroadcastA", {3, 4}, {2, 4, 5}},
    // B one matrix for every batch position: run as one product of A's rows (a Linear layer per pixel, convnext).
    {"PerPixelLinear", {2, 5, 6, 8}, {8, 7}},
    {"BatchOnesB", {2, 3, 4}, {1, 4, 5}},
    {"OneRowBatches", {4, 1, 3}, {1, 3, 2}},
};

INSTANTIATE_TEST_SUITE_P(Numpy, MatMulTest,
                         ::testing::Combine(::testing::ValuesIn(kMatMulCases),
                                            ::testing::Values(Constness::kAllRuntime, Constness::kWeightsConstant)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + ConstnessName(std::get<1>(info.param));
                         });

using BinaryKind = ops::BinaryParams::Kind;

std::string KindName(BinaryKind kind) { return std::string(ops::BinaryName(kind)); }

class BinaryTest : public ::testing::TestWithParam<std::tuple<ShapesCase, BinaryKind, Constness>> {};

TEST_P(BinaryTest, OneDnnMatchesReference) {
  const auto& [c, kind, constness] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> binary, ops::Binary::Create({kind}));
  auto operands = MakeOperands({c.a, c.b}, constness);
  if (kind == BinaryKind::kDiv) {
    // Divisors away from zero keep the relative error meaningful.
    for (float& v : operands[1].tensor.floats()) v = v < 0 ? v - 0.5f : v + 0.5f;
  }
  EXPECT_TRUE(EmitMatchesReference(binary, operands));
}

const ShapesCase kBinaryCases[] = {
    {"SameShape", {2, 3, 4, 5}, {2, 3, 4, 5}},
    {"PerChannelB", {2, 3, 4, 5}, {3, 1, 1}},
    {"PerChannelA", {1, 3, 1, 1}, {2, 3, 4, 5}},
    {"ScalarB", {2, 3}, {}},
    {"ScalarA", {}, {4, 2}},
    {"BothBroadcast", {3, 1}, {1, 4}},
    {"RankDiffers", {5}, {2, 3, 5}},
    {"Vectors", {7}, {7}},
};

INSTANTIATE_TEST_SUITE_P(Broadcast, BinaryTest,
                         ::testing::Combine(::testing::ValuesIn(kBinaryCases),
                                            ::testing::Values(BinaryKind::kAdd, BinaryKind::kSub, BinaryKind::kMul,
                                                              BinaryKind::kDiv),
                                            ::testing::Values(Constness::kAllRuntime, Constness::kWeightsConstant,
                                                              Constness::kFirstConstant)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + KindName(std::get<1>(info.param)) + "_" +
                                  ConstnessName(std::get<2>(info.param));
                         });

class BatchNormTest : public ::testing::TestWithParam<std::tuple<Shape, Constness>> {};

TEST_P(BatchNormTest, OneDnnMatchesReference) {
  const auto& [x, constness] = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> bn, ops::BatchNorm::Create({.epsilon = 1e-3f}));
  const Shape channel = {x[1]};
  auto operands = MakeOperands({x, channel, channel, channel, channel}, constness);
  for (float& v : operands[4].tensor.floats()) v = v * v + 0.1f;  // variances are positive
  EXPECT_TRUE(EmitMatchesReference(bn, operands));
}

// Grad-CAM differentiates a BatchNormalization that could not fold into a convolution (DenseNet's norm5).
TEST_P(BatchNormTest, BackwardMatchesFiniteDifferences) {
  const Shape& x = std::get<0>(GetParam());
  FOVEA_ASSERT_OK_AND_ASSIGN(auto bn, ops::BatchNorm::Create({.epsilon = 1e-3f}));
  const Shape channel = {x[1]};
  std::vector<Tensor> inputs = {RandomTensor(x, 1), RandomTensor(channel, 2), RandomTensor(channel, 3),
                                RandomTensor(channel, 4), RandomTensor(channel, 5)};
  for (float& v : inputs[4].floats()) v = v * v + 0.1f;
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*bn, inputs));
}

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormTest,
                         ::testing::Combine(::testing::Values(Shape{2, 3, 4, 5}, Shape{4, 6}, Shape{1, 16, 7, 7},
                                                              Shape{2, 4, 3, 3, 3}),
                                            ::testing::Values(Constness::kAllRuntime, Constness::kWeightsConstant)));

struct SoftmaxCase {
  std::string name;
  ops::SoftmaxParams params;
  Shape x;
};

class SoftmaxTest : public ::testing::TestWithParam<SoftmaxCase> {};

TEST_P(SoftmaxTest, OneDnnMatchesReference) {
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> softmax, ops::Softmax::Create(GetParam().params));
  EXPECT_TRUE(EmitMatchesReference(softmax, {Runtime(RandomTensor(GetParam().x, 5, -5.0f, 5.0f))}));
}

const SoftmaxCase kSoftmaxCases[] = {
    {"LastAxis", {.axis = -1}, {4, 10}},
    {"MiddleAxis", {.axis = 1}, {2, 5, 3, 4}},
    {"FirstAxis", {.axis = 0}, {6, 3}},
    {"Log", {.axis = -1, .log = true}, {3, 7}},
    {"LogMiddle", {.axis = 2, .log = true}, {2, 3, 4, 2}},
    {"Legacy", {.axis = 1, .log = false, .legacy_2d = true}, {2, 3, 4}},
    {"LegacyLog", {.axis = 2, .log = true, .legacy_2d = true}, {2, 3, 4, 5}},
    {"LegacyFirstAxis", {.axis = 0, .log = false, .legacy_2d = true}, {3, 4}},
};

INSTANTIATE_TEST_SUITE_P(Axes, SoftmaxTest, ::testing::ValuesIn(kSoftmaxCases),
                         [](const auto& info) { return info.param.name; });

struct ConcatCase {
  std::string name;
  int64_t axis;
  std::vector<Shape> inputs;
  bool constant_last = false;
};

class ConcatTest : public ::testing::TestWithParam<ConcatCase> {};

TEST_P(ConcatTest, OneDnnMatchesReference) {
  const ConcatCase& c = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> concat, ops::Concat::Create({c.axis}));
  std::vector<Operand> operands;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    Tensor t = RandomTensor(c.inputs[i], static_cast<uint32_t>(20 + i));
    operands.push_back(c.constant_last && i + 1 == c.inputs.size() ? Constant(t) : Runtime(t));
  }
  EXPECT_TRUE(EmitMatchesReference(concat, operands));
}

// Grad-CAM sends each branch of an Inception or DenseNet block its slice of the gradient.
TEST_P(ConcatTest, BackwardMatchesFiniteDifferences) {
  const ConcatCase& c = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto concat, ops::Concat::Create({c.axis}));
  std::vector<Tensor> inputs;
  std::vector<size_t> all;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    inputs.push_back(RandomTensor(c.inputs[i], static_cast<uint32_t>(30 + i)));
    all.push_back(i);
  }
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*concat, inputs, all));
}

const ConcatCase kConcatCases[] = {
    {"Channels", 1, {{2, 3, 4, 4}, {2, 5, 4, 4}}},
    {"ThreeInputs", 1, {{1, 8, 3, 3}, {1, 8, 3, 3}, {1, 16, 3, 3}}},
    {"LastAxisNegative", -1, {{2, 3}, {2, 4}}},
    {"Batch", 0, {{1, 4}, {3, 4}}},
    {"ConstantInput", 1, {{2, 3, 2, 2}, {2, 1, 2, 2}}, true},
};

INSTANTIATE_TEST_SUITE_P(Axes, ConcatTest, ::testing::ValuesIn(kConcatCases),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace fovea::engine::testing
