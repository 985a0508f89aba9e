// Conv and pooling on oneDNN against their reference kernels over many geometries.

#include <algorithm>

#include <gtest/gtest.h>

#include "engine/ops/conv.h"
#include "engine/ops/pool.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::AutoPad;

struct ConvCase {
  std::string name;
  Shape x;  // N, C, H, W
  int64_t out_channels = 4, group = 1;
  std::vector<int64_t> kernel = {3, 3}, strides = {}, pads_begin = {}, pads_end = {}, dilations = {};
  AutoPad auto_pad = AutoPad::kNotSet;
  bool bias = true;
  std::vector<ops::ConvPostOp> post_ops = {};  // a kSum needs a residual input, which the test adds
};

const ops::ConvPostOp kSum = ops::ConvPostOp::Sum();
const ops::ConvPostOp kRelu = ops::ConvPostOp::Act({ops::ActivationKind::kRelu});
const ops::ConvPostOp kRelu6 = ops::ConvPostOp::Act({ops::ActivationKind::kClip, 0.0f, 6.0f});
const ops::ConvPostOp kLeaky = ops::ConvPostOp::Act({ops::ActivationKind::kLeakyRelu, 0.1f});
const ops::ConvPostOp kSigmoid = ops::ConvPostOp::Act({ops::ActivationKind::kSigmoid});

class ConvTest : public ::testing::TestWithParam<std::tuple<ConvCase, bool>> {};

TEST_P(ConvTest, OneDnnMatchesReference) {
  const auto& [c, constant_weights] = GetParam();
  ops::ConvParams params;
  params.group = c.group;
  params.window.strides = c.strides;
  params.window.pads_begin = c.pads_begin;
  params.window.pads_end = c.pads_end;
  params.window.dilations = c.dilations;
  params.window.auto_pad = c.auto_pad;
  params.post_ops = c.post_ops;
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> conv, ops::Conv::Create(params));
  const Shape w_shape = {c.out_channels, c.x[1] / c.group, c.kernel[0], c.kernel[1]};
  auto weights = RandomTensor(w_shape, 2);
  std::vector<Operand> operands = {Runtime(RandomTensor(c.x, 1)),
                                   constant_weights ? Constant(weights) : Runtime(weights), Absent()};
  if (c.bias) {
    auto bias = RandomTensor({c.out_channels}, 3);
    operands[2] = constant_weights ? Constant(bias) : Runtime(bias);
  }
  if (std::any_of(c.post_ops.begin(), c.post_ops.end(),
                  [](const ops::ConvPostOp& p) { return p.kind == ops::ConvPostOp::Kind::kSum; })) {
    FOVEA_ASSERT_OK_AND_ASSIGN(auto window, ops::ResolveWindow(params.window, {c.x[2], c.x[3]}, c.kernel));
    operands.push_back(Runtime(RandomTensor({c.x[0], c.out_channels, window.output[0], window.output[1]}, 4)));
  }
  EXPECT_TRUE(EmitMatchesReference(conv, operands));
}

const ConvCase kConvCases[] = {
    {.name = "Plain3x3", .x = {2, 3, 8, 8}},
    {.name = "NoBias1x1", .x = {1, 16, 5, 7}, .out_channels = 8, .kernel = {1, 1}, .bias = false},
    {.name = "Strided", .x = {2, 4, 11, 9}, .strides = {2, 3}},
    {.name = "Padded", .x = {1, 3, 6, 6}, .pads_begin = {1, 2}, .pads_end = {2, 0}},
    {.name = "Dilated", .x = {1, 4, 10, 10}, .dilations = {2, 3}},
    {.name = "Grouped", .x = {2, 8, 7, 7}, .out_channels = 12, .group = 4, .pads_begin = {1, 1}, .pads_end = {1, 1}},
    {.name = "Depthwise",
     .x = {2, 16, 9, 9},
     .out_channels = 16,
     .group = 16,
     .strides = {2, 2},
     .pads_begin = {1, 1},
     .pads_end = {1, 1}},
    {.name = "DepthwiseMultiplier", .x = {1, 8, 6, 6}, .out_channels = 16, .group = 8},
    {.name = "SameUpper", .x = {1, 3, 7, 8}, .kernel = {4, 4}, .strides = {2, 2}, .auto_pad = AutoPad::kSameUpper},
    {.name = "SameLower", .x = {1, 3, 7, 8}, .kernel = {4, 4}, .strides = {2, 2}, .auto_pad = AutoPad::kSameLower},
    {.name = "Valid",
     .x = {1, 3, 7, 8},
     .kernel = {2, 3},
     .pads_begin = {5, 5},
     .pads_end = {5, 5},
     .auto_pad = AutoPad::kValid},
    {.name = "Rectangular", .x = {3, 5, 12, 4}, .out_channels = 7, .kernel = {5, 1}, .strides = {1, 1}},
    {.name = "FusedSumRelu",
     .x = {2, 8, 8, 8},
     .out_channels = 8,
     .pads_begin = {1, 1},
     .pads_end = {1, 1},
     .post_ops = {kSum, kRelu}},
    {.name = "FusedSumReluStrided",
     .x = {1, 4, 9, 9},
     .out_channels = 16,
     .strides = {2, 2},
     .bias = false,
     .post_ops = {kSum, kRelu}},
    {.name = "FusedRelu6", .x = {2, 8, 6, 6}, .out_channels = 8, .post_ops = {kRelu6}},
    {.name = "FusedLeakySumSigmoid", .x = {1, 8, 6, 6}, .out_channels = 8, .post_ops = {kLeaky, kSum, kSigmoid}},
    {.name = "WideChannels", .x = {1, 64, 6, 6}, .out_channels = 32, .pads_begin = {1, 1}, .pads_end = {1, 1}},
    // Shapes where the engine asks for Winograd (3x3, stride 1, >= 16 input channels, constant weights): output sizes
    // that are not multiples of its 4x4 tiles, with and without padding and fused post-ops.
    {.name = "WinogradPadded",
     .x = {3, 16, 13, 11},
     .out_channels = 16,
     .pads_begin = {1, 1},
     .pads_end = {1, 1},
     .post_ops = {kRelu}},
    {.name = "WinogradUnpadded", .x = {2, 32, 9, 7}, .out_channels = 48},
    {.name = "WinogradSumRelu",
     .x = {2, 32, 7, 7},
     .out_channels = 32,
     .pads_begin = {1, 1},
     .pads_end = {1, 1},
     .post_ops = {kSum, kRelu}},
};

INSTANTIATE_TEST_SUITE_P(Geometries, ConvTest, ::testing::Combine(::testing::ValuesIn(kConvCases), ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param).name +
                                  (std::get<1>(info.param) ? "_ConstantWeights" : "_RuntimeWeights");
                         });

TEST(ConvTest, BroadcastResidualFallsBackToSeparateAdd) {
  ops::ConvParams params;
  params.post_ops = {ops::ConvPostOp::Sum(), ops::ConvPostOp::Act({ops::ActivationKind::kRelu})};
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> conv, ops::Conv::Create(params));
  // A per-channel residual [1, M, 1, 1] cannot be a sum post-op; the Conv emits an Add and a ReLU instead.
  const Tensor x = RandomTensor({2, 3, 5, 5}, 1), w = RandomTensor({4, 3, 3, 3}, 2);
  const Tensor residual = RandomTensor({1, 4, 1, 1}, 3);
  std::vector<Tensor> inputs = {x, w, Tensor(), residual};
  // The reference adds residual element by element, so compare with an explicit broadcast-free expectation.
  FOVEA_ASSERT_OK_AND_ASSIGN(auto plain, ops::Conv::Create({}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto conv_out, plain->Reference(std::vector<Tensor>{x, w}));
  Tensor expected = conv_out[0].Clone();
  const int64_t plane = 3 * 3;
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    const float v = expected.data<float>()[i] + residual.data<float>()[(i / plane) % 4];
    expected.data<float>()[i] = v > 0 ? v : 0;
  }
  FOVEA_ASSERT_OK_AND_ASSIGN(
      auto actual,
      RunSession(OneNodeGraph(conv, {Runtime(x), Constant(w), Absent(), Runtime(residual)}), {x, residual}));
  EXPECT_TRUE(TensorsNear(expected, actual[0]));
}

struct PoolCase {
  std::string name;
  ops::PoolParams params;
  Shape x = {2, 3, 9, 9};
};

ops::PoolParams SamePadded(ops::PoolParams::Kind kind, AutoPad auto_pad) {
  ops::PoolParams p = PoolingParams(kind, {3, 2}, {2, 2});
  p.window.auto_pad = auto_pad;
  return p;
}

class PoolTest : public ::testing::TestWithParam<PoolCase> {};

TEST_P(PoolTest, OneDnnMatchesReference) {
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> pool, ops::Pool::Create(GetParam().params));
  EXPECT_TRUE(EmitMatchesReference(pool, {Runtime(RandomTensor(GetParam().x, 7))}));
}

constexpr auto kMax = ops::PoolParams::Kind::kMax;
constexpr auto kAvg = ops::PoolParams::Kind::kAverage;

const PoolCase kPoolCases[] = {
    {"Max2x2", PoolingParams(kMax, {2, 2}, {2, 2})},
    {"Max3x3Stride2Pad1", PoolingParams(kMax, {3, 3}, {2, 2}, {1, 1, 1, 1})},
    {"MaxCeil", PoolingParams(kMax, {3, 3}, {2, 2}, {}, true), {1, 4, 10, 10}},
    {"MaxCeilPadded", PoolingParams(kMax, {3, 3}, {2, 2}, {1, 1, 0, 0}, true), {1, 2, 8, 8}},
    {"MaxDilated", PoolingParams(kMax, {2, 2}, {1, 1}, {}, false, false, {2, 2})},
    {"MaxSameUpper", SamePadded(kMax, AutoPad::kSameUpper), {1, 3, 8, 7}},
    {"AvgSameLower", SamePadded(kAvg, AutoPad::kSameLower), {1, 3, 8, 7}},
    {"MaxAsymmetricPads", PoolingParams(kMax, {2, 3}, {1, 2}, {0, 1, 1, 2})},
    {"Avg2x2", PoolingParams(kAvg, {2, 2}, {2, 2})},
    {"AvgExcludePad", PoolingParams(kAvg, {3, 3}, {1, 1}, {1, 1, 1, 1})},
    {"AvgIncludePad", PoolingParams(kAvg, {3, 3}, {2, 2}, {1, 1, 1, 1}, false, true)},
    {"AvgCeilExcludePad", PoolingParams(kAvg, {3, 3}, {2, 2}, {}, true), {1, 4, 10, 10}},
    {"AvgCeilIncludePadInside", PoolingParams(kAvg, {3, 3}, {2, 2}, {1, 1, 1, 1}, true, true), {1, 2, 9, 9}},
    {"AvgDilated", PoolingParams(kAvg, {2, 2}, {1, 1}, {1, 1, 1, 1}, false, false, {2, 2})},
    {"GlobalMax", GlobalPooling(kMax), {2, 16, 7, 5}},
    {"GlobalAverage", GlobalPooling(kAvg), {3, 32, 6, 6}},
    {"WideChannels", PoolingParams(kMax, {2, 2}, {2, 2}), {2, 64, 8, 8}},
};

INSTANTIATE_TEST_SUITE_P(Geometries, PoolTest, ::testing::ValuesIn(kPoolCases),
                         [](const auto& info) { return info.param.name; });

TEST(PoolTest, CeilWindowPastIncludedPaddingIsRejectedClearly) {
  // 10 + 0 pad with k=3 s=2 ceil: the last window starts at 8 and reaches 10, past the input: oneDNN would divide
  // by 9 where ONNX divides by the 6 cells inside the input.
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> pool,
                             ops::Pool::Create(PoolingParams(kAvg, {3, 3}, {2, 2}, {}, true, true)));
  const Tensor x = RandomTensor({1, 1, 10, 10}, 1);
  auto result = RunSession(OneNodeGraph(pool, {Runtime(x)}), {x});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(result.status().message().find("count_include_pad"), std::string::npos) << result.status().ToString();
}

}  // namespace
}  // namespace fovea::engine::testing
