// The backward passes of the ops with oneDNN backward primitives (Conv, the poolings, Gemm and MatMul through the inner
// product) against central finite differences of their reference kernels, over many geometries; and the queries
// graph passes ask an op instead of casting it (AsBinary, AsReduction, AsReshape, AsPermutation, quantization).

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "engine/ops/binary.h"
#include "engine/ops/conv.h"
#include "engine/ops/gemm.h"
#include "engine/ops/matmul.h"
#include "engine/ops/pool.h"
#include "engine/ops/quantize.h"
#include "engine/ops/quantized_conv.h"
#include "engine/ops/reduce.h"
#include "engine/ops/reshape.h"
#include "engine/ops/transpose.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::ActivationKind;

// Values 0.02 apart in a shuffled order: no two elements of a pooling window are within a finite-difference step of
// each other, so the maximum of each window stays where it is while one element moves.
Tensor DistinctValues(const Shape& shape, uint32_t seed) {
  Tensor t(DataType::kFloat32, shape);
  auto values = t.floats();
  std::iota(values.begin(), values.end(), 0.0f);
  std::shuffle(values.begin(), values.end(), std::mt19937(seed));
  for (float& v : values) v = v * 0.02f - 1.0f;
  return t;
}

// Convolution window attributes: pads {top, left, bottom, right}; an empty vector takes ONNX's default.
ops::WindowAttributes Attributes(std::vector<int64_t> kernel, std::vector<int64_t> strides = {},
                                 std::vector<int64_t> pads = {}, std::vector<int64_t> dilations = {}) {
  ops::WindowAttributes a;
  a.kernel = std::move(kernel);
  a.strides = std::move(strides);
  a.dilations = std::move(dilations);
  if (!pads.empty()) {
    a.pads_begin = {pads[0], pads[1]};
    a.pads_end = {pads[2], pads[3]};
  }
  return a;
}

ops::ConvParams ConvWith(ops::WindowAttributes window, int64_t group, std::vector<PostOp> post_ops = {}) {
  ops::ConvParams p;
  p.window = std::move(window);
  p.group = group;
  p.post_ops = std::move(post_ops);
  return p;
}

struct ConvCase {
  std::string name;
  Shape x, w;
  ops::WindowAttributes window;
  int64_t group = 1;
  bool bias = true;
};

const ConvCase kConvCases[] = {
    {"Plain3x3", {2, 3, 6, 6}, {4, 3, 3, 3}, {}, 1, true},
    {"Padded", {1, 2, 5, 5}, {3, 2, 3, 3}, Attributes({}, {}, {1, 1, 1, 1}), 1, true},
    {"Strided", {1, 2, 7, 7}, {2, 2, 3, 3}, Attributes({}, {2, 2}, {1, 0, 0, 1}), 1, false},
    {"Dilated", {1, 2, 7, 7}, {2, 2, 3, 3}, Attributes({}, {}, {}, {2, 2}), 1, true},
    {"Grouped", {1, 4, 5, 5}, {6, 2, 3, 3}, Attributes({}, {}, {1, 1, 1, 1}), 2, true},
    {"Depthwise", {2, 3, 5, 5}, {3, 1, 3, 3}, Attributes({}, {2, 2}, {1, 1, 1, 1}), 3, false},
    {"Pointwise", {2, 5, 3, 4}, {3, 5, 1, 1}, {}, 1, true},
    {"Rectangular", {1, 2, 6, 5}, {2, 2, 3, 1}, Attributes({}, {1, 2}), 1, true},
};

class ConvBackwardTest : public ::testing::TestWithParam<ConvCase> {};

std::vector<Tensor> ConvInputs(const ConvCase& c) {
  std::vector<Tensor> inputs = {RandomTensor(c.x, 11), RandomTensor(c.w, 12)};
  if (c.bias) inputs.push_back(RandomTensor({c.w[0]}, 13));
  return inputs;
}

std::vector<size_t> AllOf(const std::vector<Tensor>& inputs) {
  std::vector<size_t> all(inputs.size());
  std::iota(all.begin(), all.end(), size_t{0});
  return all;
}

TEST_P(ConvBackwardTest, DataWeightsAndBiasMatchFiniteDifferences) {
  const ConvCase& c = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Conv::Create(ConvWith(c.window, c.group)));
  const std::vector<Tensor> inputs = ConvInputs(c);
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs, AllOf(inputs)));
}

TEST_P(ConvBackwardTest, FusedActivationsAreDifferentiatedAtTheirInputs) {
  const ConvCase& c = GetParam();
  ops::ActivationParams sigmoid, tanh;
  sigmoid.kind = ActivationKind::kSigmoid;
  tanh.kind = ActivationKind::kTanh;
  PostOp first, second;
  first.activation = sigmoid;
  second.activation = tanh;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Conv::Create(ConvWith(c.window, c.group, {first, second})));
  const std::vector<Tensor> inputs = ConvInputs(c);
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs, AllOf(inputs)));
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvBackwardTest, ::testing::ValuesIn(kConvCases),
                         [](const auto& info) { return info.param.name; });

// A residual block's last convolution with its sum fused in (engine/passes): activation, sum, activation.
TEST(ConvBackwardTest, AFusedResidualSumPassesItsGradientToTheResidual) {
  ops::ActivationParams sigmoid, tanh;
  sigmoid.kind = ActivationKind::kSigmoid;
  tanh.kind = ActivationKind::kTanh;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op,
                             ops::Conv::Create(ConvWith(Attributes({}, {}, {1, 1, 1, 1}), 1,
                                                        {PostOp::Act(sigmoid), PostOp::Sum(), PostOp::Act(tanh)})));
  const std::vector<Tensor> inputs = {RandomTensor({1, 2, 4, 4}, 1), RandomTensor({3, 2, 3, 3}, 2),
                                      RandomTensor({3}, 3), RandomTensor({1, 3, 4, 4}, 4)};
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs, AllOf(inputs)));
}

TEST(ConvBackwardTest, AFusedSumWithoutItsResidualIsRefused) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Conv::Create(ConvWith({}, 1, {PostOp::Sum()})));
  const std::vector<Tensor> inputs = {RandomTensor({1, 2, 4, 4}, 1), RandomTensor({2, 2, 3, 3}, 2)};
  const std::vector<Tensor> grads = {RandomTensor({1, 2, 2, 2}, 4)};
  EXPECT_EQ(StatusCode::kInvalidArgument, op->Backward(inputs, {}, grads, {}).status().code());
}

struct PoolCase {
  std::string name;
  ops::PoolParams params;
  Shape x;
};

using PoolKind = ops::PoolParams::Kind;

const PoolCase kPoolCases[] = {
    {"Max2x2", PoolingParams(PoolKind::kMax, {2, 2}, {2, 2}), {2, 3, 6, 6}},
    {"MaxOverlapping", PoolingParams(PoolKind::kMax, {3, 3}, {2, 2}, {1, 1, 1, 1}), {1, 2, 7, 7}},
    {"MaxCeil", PoolingParams(PoolKind::kMax, {3, 3}, {2, 2}, {}, true), {1, 2, 6, 6}},
    {"MaxDilated", PoolingParams(PoolKind::kMax, {2, 2}, {}, {}, false, false, {2, 2}), {1, 2, 6, 6}},
    {"Average", PoolingParams(PoolKind::kAverage, {3, 3}, {1, 1}), {2, 2, 5, 5}},
    {"AverageExcludingPad", PoolingParams(PoolKind::kAverage, {3, 3}, {2, 2}, {1, 1, 1, 1}), {1, 3, 5, 5}},
    {"AverageIncludingPad", PoolingParams(PoolKind::kAverage, {3, 3}, {2, 2}, {1, 1, 1, 1}, false, true), {1, 3, 5, 5}},
    {"GlobalAverage", GlobalPooling(PoolKind::kAverage), {2, 4, 3, 5}},
    {"GlobalMax", GlobalPooling(PoolKind::kMax), {2, 4, 3, 5}},
};

class PoolBackwardTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolBackwardTest, MatchesFiniteDifferences) {
  const PoolCase& c = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Pool::Create(c.params));
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, {DistinctValues(c.x, 21)}));
}

INSTANTIATE_TEST_SUITE_P(Windows, PoolBackwardTest, ::testing::ValuesIn(kPoolCases),
                         [](const auto& info) { return info.param.name; });

struct GemmCase {
  std::string name;
  ops::GemmParams params;
  Shape a, b, c;  // c empty-ranked {} means a scalar C; kNoC means none
  bool has_c = true;
};

const GemmCase kGemmCases[] = {
    {"Linear", {1.0f, 1.0f, false, true}, {3, 5}, {4, 5}, {4}},
    {"Plain", {1.0f, 1.0f, false, false}, {3, 5}, {5, 4}, {3, 4}},
    {"TransposedA", {0.5f, 2.0f, true, false}, {5, 3}, {5, 4}, {3, 1}},
    {"BothTransposed", {1.5f, -1.0f, true, true}, {5, 3}, {4, 5}, {1, 4}},
    {"ScalarC", {1.0f, 0.25f, false, true}, {2, 6}, {3, 6}, {}},
    {"NoC", {2.0f, 1.0f, false, false}, {2, 3}, {3, 2}, {}, false},
};

class GemmBackwardTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmBackwardTest, EveryOperandMatchesFiniteDifferences) {
  const GemmCase& c = GetParam();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Gemm::Create(c.params));
  std::vector<Tensor> inputs = {RandomTensor(c.a, 31), RandomTensor(c.b, 32)};
  if (c.has_c) inputs.push_back(RandomTensor(c.c, 33));
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs, AllOf(inputs)));
}

INSTANTIATE_TEST_SUITE_P(Forms, GemmBackwardTest, ::testing::ValuesIn(kGemmCases),
                         [](const auto& info) { return info.param.name; });

struct MatMulCase {
  std::string name;
  Shape a, b;
};

const MatMulCase kMatMulCases[] = {
    {"Matrices", {3, 4}, {4, 5}},
    {"BatchedA", {2, 3, 4}, {4, 2}},
    {"VectorA", {4}, {4, 3}},
    {"VectorB", {2, 4}, {4}},
};

class MatMulBackwardTest : public ::testing::TestWithParam<MatMulCase> {};

TEST_P(MatMulBackwardTest, BothOperandsMatchFiniteDifferences) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::MatMul::Create());
  const std::vector<Tensor> inputs = {RandomTensor(GetParam().a, 41), RandomTensor(GetParam().b, 42)};
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs, {0, 1}));
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulBackwardTest, ::testing::ValuesIn(kMatMulCases),
                         [](const auto& info) { return info.param.name; });

TEST(MatMulBackwardTest, ABatchedBIsRefusedByName) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::MatMul::Create());
  const std::vector<Tensor> inputs = {RandomTensor({2, 3, 4}, 1), RandomTensor({2, 4, 5}, 2)};
  const std::vector<Tensor> grads = {RandomTensor({2, 3, 5}, 3)};
  const auto result = op->Backward(inputs, {}, grads, {});
  EXPECT_EQ(result.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(result.status().message().find("batched B"), std::string::npos) << result.status().message();
}

// Asked for the data gradient alone (Grad-CAM's case: the weights are constants), Conv, Gemm and MatMul return the
// same data gradient as when every gradient is asked for, and skip the weight and bias gradients.
TEST(BackwardNeededTest, DataGradientAloneSkipsTheWeightGradients) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto conv, ops::Conv::Create(ConvWith(Attributes({3, 3}, {1, 1}, {1, 1, 1, 1}), 1)));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto matmul, ops::MatMul::Create());
  ops::GemmParams gemm_params;
  gemm_params.trans_b = true;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto gemm, ops::Gemm::Create(gemm_params));
  struct Case {
    const Op* op;
    std::vector<Tensor> inputs;
    Shape output;
  };
  const Case cases[] = {
      {conv.get(),
       {RandomTensor({2, 3, 6, 6}, 61), RandomTensor({4, 3, 3, 3}, 62), RandomTensor({4}, 63)},
       {2, 4, 6, 6}},
      {gemm.get(), {RandomTensor({2, 5}, 64), RandomTensor({3, 5}, 65), RandomTensor({3}, 66)}, {2, 3}},
      {matmul.get(), {RandomTensor({2, 5}, 67), RandomTensor({5, 3}, 68)}, {2, 3}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.op->type()));
    const std::vector<Tensor> dy = {RandomTensor(c.output, 69)};
    FOVEA_ASSERT_OK_AND_ASSIGN(auto all, c.op->Backward(c.inputs, {}, dy, {}));
    const bool data_only[] = {true, false, false};
    FOVEA_ASSERT_OK_AND_ASSIGN(auto some, c.op->Backward(c.inputs, {}, dy, std::span(data_only, c.inputs.size())));
    ASSERT_EQ(all.size(), some.size());
    EXPECT_TRUE(TensorsNear(all[0], some[0]));
    for (size_t i = 1; i < some.size(); ++i) {
      EXPECT_TRUE(all[i].has_data()) << "input " << i;
      EXPECT_FALSE(some[i].has_data()) << "input " << i;
    }
  }
}

// The queries passes ask instead of casting (engine/op.h): each op answers for itself and every other op says no.
TEST(OpQueriesTest, PatternOpsDescribeThemselvesAndOthersDecline) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto pow, ops::Binary::Create({ops::BinaryKind::kPow}));
  EXPECT_EQ(pow->AsBinary(), ops::BinaryKind::kPow);

  ops::ReduceParams mean_params;
  mean_params.kind = ops::ReduceKind::kMean;
  mean_params.axes_from_input = true;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto mean, ops::Reduce::Create(mean_params));
  const Tensor axes[] = {Int64s({1}, {-1})};
  const auto reduction = mean->AsReduction(axes);
  ASSERT_TRUE(reduction.has_value());
  EXPECT_EQ(reduction->kind, ops::ReduceKind::kMean);
  EXPECT_EQ(reduction->axes, std::vector<int64_t>{-1});

  FOVEA_ASSERT_OK_AND_ASSIGN(auto reshape, ops::Reshape::Create({}));
  const Tensor target[] = {Int64s({3}, {0, -1, 4})};
  EXPECT_EQ(reshape->AsReshape(target), (std::vector<int64_t>{0, -1, 4}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto reshape_zero, ops::Reshape::Create(ops::ReshapeParams{true}));
  EXPECT_FALSE(reshape_zero->AsReshape(target).has_value());

  FOVEA_ASSERT_OK_AND_ASSIGN(auto transpose, ops::Transpose::Create({{0, 2, 1, 3}}));
  EXPECT_EQ(transpose->AsPermutation(), (std::vector<int64_t>{0, 2, 1, 3}));

  for (const Op* other : {static_cast<const Op*>(reshape.get()), static_cast<const Op*>(transpose.get())}) {
    EXPECT_FALSE(other->AsBinary().has_value()) << other->type();
    EXPECT_FALSE(other->AsReduction(axes).has_value()) << other->type();
    EXPECT_FALSE(other->AsQuantizationStep().has_value()) << other->type();
    EXPECT_FALSE(other->CommutesWithQuantization()) << other->type();
  }
  EXPECT_FALSE(pow->AsPermutation().has_value());
  EXPECT_FALSE(pow->AsReshape(target).has_value());
}

TEST(OpQueriesTest, ConvQuantizesAndTheQuantizedConvDequantizesBack) {
  ops::ActivationParams relu;
  relu.kind = ActivationKind::kRelu;
  PostOp post;
  post.activation = relu;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto conv, ops::Conv::Create(ConvWith(Attributes({}, {2, 2}), 2, {post})));
  ASSERT_TRUE(conv->Quantizable());
  QuantizedOperands operands;
  operands.input_scale = 0.5f;
  operands.weight_scales = {0.1f, 0.2f};
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> quantized, conv->Quantized(operands));
  ASSERT_NE(quantized, nullptr);
  EXPECT_EQ(quantized->type(), "QLinearConv");
  const auto back = quantized->Dequantized();
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->weight_scales, operands.weight_scales);
  EXPECT_EQ(back->op->type(), "Conv");
  const Shape shapes[] = {{1, 4, 8, 8}, {2, 2, 3, 3}};
  EXPECT_EQ(back->op->Geometry(shapes).value(), conv->Geometry(shapes).value());

  PostOp sum;
  sum.kind = PostOp::Kind::kSum;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto residual, ops::Conv::Create(ConvWith({}, 1, {sum})));
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> none, residual->Quantized(operands));
  EXPECT_EQ(none, nullptr);
  EXPECT_FALSE(conv->Dequantized().has_value());
}

TEST(OpQueriesTest, QuantizeStepsAndMaxPoolingSayWhatTheyAre) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto q, ops::QuantizeLinear::Create(ops::QuantizeParams{0}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto dq, ops::DequantizeLinear::Create(ops::QuantizeParams{1}));
  ASSERT_TRUE(q->AsQuantizationStep().has_value());
  EXPECT_TRUE(q->AsQuantizationStep()->quantize);
  EXPECT_EQ(q->AsQuantizationStep()->axis, 0);
  EXPECT_FALSE(dq->AsQuantizationStep()->quantize);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto max, ops::Pool::Create(PoolingParams(PoolKind::kMax, {2, 2})));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto average, ops::Pool::Create(PoolingParams(PoolKind::kAverage, {2, 2})));
  EXPECT_TRUE(max->CommutesWithQuantization());
  EXPECT_FALSE(average->CommutesWithQuantization());
}

}  // namespace
}  // namespace fovea::engine::testing
