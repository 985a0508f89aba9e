// ConvTranspose: the reference kernel against hand-computed values, ONNX's output-size and pad rules, oneDNN
// deconvolution (and the host step where oneDNN declines) against the reference, gradients and pixel geometry.

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/ops/conv_transpose.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::AutoPad;
using ops::ConvPostOp;
using ops::ConvTransposeParams;

const ConvPostOp kSum = ConvPostOp::Sum();
const ConvPostOp kRelu = ConvPostOp::Act({ops::ActivationKind::kRelu});
const ConvPostOp kLeaky = ConvPostOp::Act({ops::ActivationKind::kLeakyRelu, 0.1f});
const ConvPostOp kSigmoid = ConvPostOp::Act({ops::ActivationKind::kSigmoid});

std::shared_ptr<const ops::ConvTranspose> Make(const ConvTransposeParams& params) {
  auto op = ops::ConvTranspose::Create(params);
  EXPECT_TRUE(op.ok()) << op.status().ToString();
  return std::shared_ptr<const ops::ConvTranspose>(std::move(op).value());
}

TEST(ConvTransposeReference, StrideEqualToKernelPastesScaledKernels) {
  ConvTransposeParams params;
  params.window.strides = {2, 2};
  // Each input pixel v pastes v · W into its own 2x2 block, plus the bias.
  const Tensor x = Floats({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor w = Floats({1, 1, 2, 2}, {1, 10, 100, 1000});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, Make(params)->Reference(std::vector<Tensor>{x, w, Floats({1}, {0.5f})}));
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 4, 4}, {1.5, 10.5, 2.5, 20.5,          //
                                                100.5, 1000.5, 200.5, 2000.5,  //
                                                3.5, 30.5, 4.5, 40.5,          //
                                                300.5, 3000.5, 400.5, 4000.5}),
                          y[0]));
}

TEST(ConvTransposeReference, OverlappingTapsAddUpAndGroupsStaySeparate) {
  ConvTransposeParams params;
  params.group = 2;
  // Two groups of one channel each, stride 1: a 1x2 input row convolved with a 1x2 kernel overlaps in the middle.
  const Tensor x = Floats({1, 2, 1, 2}, {1, 2, 3, 4});
  const Tensor w = Floats({2, 1, 1, 2}, {1, 1, 10, -1});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, Make(params)->Reference(std::vector<Tensor>{x, w}));
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 1, 3}, {1, 3, 2, 30, 37, -4}), y[0]));
}

TEST(ConvTransposeReference, OutputPaddingAddsBiasOnlyRows) {
  ConvTransposeParams params;
  params.window.strides = {2, 2};
  params.output_padding = {1, 0};
  const Tensor x = Floats({1, 1, 1, 1}, {3});
  const Tensor w = Floats({1, 1, 1, 1}, {2});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, Make(params)->Reference(std::vector<Tensor>{x, w, Floats({1}, {1})}));
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 2, 1}, {7, 1}), y[0]));
}

TEST(ConvTransposeWindow, FollowsOnnxOutputSizeAndPadRules) {
  ConvTransposeParams params;
  params.window.strides = {3, 2};
  params.window.pads_begin = {1, 2};
  params.window.pads_end = {1, 2};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto g, ops::ResolveTransposedWindow(params, {3, 3}, {3, 3}));
  EXPECT_EQ(g.output, (std::vector<int64_t>{7, 3}));  // stride·(in − 1) + kernel − pads
  // output_shape one larger than the natural size: ONNX splits total pad −1 as 0 before, −1 after.
  params = {};
  params.window.strides = {3, 2};
  params.output_shape = {10, 8};
  FOVEA_ASSERT_OK_AND_ASSIGN(g, ops::ResolveTransposedWindow(params, {3, 3}, {3, 3}));
  EXPECT_EQ(g.output, (std::vector<int64_t>{10, 8}));
  EXPECT_EQ(g.pads_begin, (std::vector<int64_t>{0, 0}));
  // SAME_UPPER: output = input · stride, the odd pad goes after; SAME_LOWER puts it before.
  params = {};
  params.window.strides = {2, 2};
  params.window.auto_pad = AutoPad::kSameUpper;
  FOVEA_ASSERT_OK_AND_ASSIGN(g, ops::ResolveTransposedWindow(params, {3, 3}, {3, 4}));
  EXPECT_EQ(g.output, (std::vector<int64_t>{6, 6}));
  EXPECT_EQ(g.pads_begin, (std::vector<int64_t>{0, 1}));
  params.window.auto_pad = AutoPad::kSameLower;
  FOVEA_ASSERT_OK_AND_ASSIGN(g, ops::ResolveTransposedWindow(params, {3, 3}, {3, 4}));
  EXPECT_EQ(g.pads_begin, (std::vector<int64_t>{1, 1}));
  params.window.kernel = {2, 2};
  EXPECT_FALSE(ops::ResolveTransposedWindow(params, {3, 3}, {3, 3}).ok());
}

struct DeconvCase {
  std::string name;
  Shape x;  // N, C, H, W
  int64_t out_channels = 4, group = 1;
  std::vector<int64_t> kernel = {3, 3}, strides = {}, pads_begin = {}, pads_end = {}, dilations = {};
  std::vector<int64_t> output_padding = {}, output_shape = {};
  AutoPad auto_pad = AutoPad::kNotSet;
  bool bias = true;
  std::vector<ConvPostOp> post_ops = {};
  bool broadcast_residual = false;  // the residual is [1, M, 1, 1]: the sum cannot be a post-op
};

ConvTransposeParams ParamsOf(const DeconvCase& c) {
  ConvTransposeParams params;
  params.group = c.group;
  params.window.kernel = c.kernel;
  params.window.strides = c.strides;
  params.window.pads_begin = c.pads_begin;
  params.window.pads_end = c.pads_end;
  params.window.dilations = c.dilations;
  params.window.auto_pad = c.auto_pad;
  params.output_padding = c.output_padding;
  params.output_shape = c.output_shape;
  params.post_ops = c.post_ops;
  return params;
}

class ConvTransposeTest : public ::testing::TestWithParam<std::tuple<DeconvCase, bool>> {};

TEST_P(ConvTransposeTest, MatchesReference) {
  const auto& [c, constant_weights] = GetParam();
  const ConvTransposeParams params = ParamsOf(c);
  const Shape w_shape = {c.x[1], c.out_channels / c.group, c.kernel[0], c.kernel[1]};
  const Tensor weights = RandomTensor(w_shape, 2);
  std::vector<Operand> operands = {Runtime(RandomTensor(c.x, 1)),
                                   constant_weights ? Constant(weights) : Runtime(weights), Absent()};
  if (c.bias) {
    const Tensor bias = RandomTensor({c.out_channels}, 3);
    operands[2] = constant_weights ? Constant(bias) : Runtime(bias);
  }
  if (std::find_if(c.post_ops.begin(), c.post_ops.end(),
                   [](const ConvPostOp& p) { return p.kind == ConvPostOp::Kind::kSum; }) != c.post_ops.end()) {
    FOVEA_ASSERT_OK_AND_ASSIGN(auto g, ops::ResolveTransposedWindow(params, {c.x[2], c.x[3]}, c.kernel));
    const Shape residual =
        c.broadcast_residual ? Shape{1, c.out_channels, 1, 1} : Shape{c.x[0], c.out_channels, g.output[0], g.output[1]};
    operands.push_back(Runtime(RandomTensor(residual, 4)));
  }
  EXPECT_TRUE(EmitMatchesReference(Make(params), operands));
}

const DeconvCase kDeconvCases[] = {
    {.name = "Plain3x3", .x = {2, 3, 5, 5}},
    {.name = "NoBias", .x = {1, 8, 4, 6}, .out_channels = 16, .bias = false},
    {.name = "StrideEqualsKernel", .x = {2, 16, 6, 7}, .out_channels = 8, .kernel = {2, 2}, .strides = {2, 2}},
    {.name = "Kernel4Stride2Pad1",
     .x = {1, 16, 7, 7},
     .out_channels = 32,
     .kernel = {4, 4},
     .strides = {2, 2},
     .pads_begin = {1, 1},
     .pads_end = {1, 1}},
    {.name = "AsymmetricStridesPads", .x = {1, 3, 4, 5}, .strides = {3, 2}, .pads_begin = {1, 2}, .pads_end = {2, 0}},
    {.name = "Dilated", .x = {1, 4, 5, 5}, .dilations = {2, 3}},
    {.name = "Grouped",
     .x = {2, 8, 5, 5},
     .out_channels = 12,
     .group = 4,
     .strides = {2, 2},
     .pads_begin = {1, 1},
     .pads_end = {1, 1}},
    {.name = "Depthwise",
     .x = {1, 16, 6, 6},
     .out_channels = 16,
     .group = 16,
     .kernel = {4, 4},
     .strides = {2, 2},
     .pads_begin = {1, 1},
     .pads_end = {1, 1}},
    {.name = "OutputPadding", .x = {1, 3, 4, 4}, .strides = {3, 2}, .output_padding = {1, 1}},
    {.name = "OutputShape", .x = {1, 3, 3, 3}, .out_channels = 2, .strides = {3, 2}, .output_shape = {10, 8}},
    {.name = "OutputShapeCrops", .x = {1, 3, 5, 5}, .strides = {2, 2}, .output_shape = {8, 9}},
    // An output two larger than the natural one: ONNX's split puts a negative pad before it (the host step).
    {.name = "OutputShapeNegativeLeadingPad", .x = {1, 3, 3, 3}, .strides = {2, 2}, .output_shape = {9, 10}},
    {.name = "SameUpper", .x = {1, 3, 5, 6}, .kernel = {3, 4}, .strides = {2, 2}, .auto_pad = AutoPad::kSameUpper},
    {.name = "SameLower", .x = {1, 3, 5, 6}, .kernel = {3, 4}, .strides = {2, 2}, .auto_pad = AutoPad::kSameLower},
    {.name = "Valid",
     .x = {1, 3, 4, 4},
     .strides = {2, 2},
     .pads_begin = {3, 3},
     .pads_end = {3, 3},
     .auto_pad = AutoPad::kValid},
    {.name = "FusedRelu", .x = {2, 8, 5, 5}, .out_channels = 8, .strides = {2, 2}, .post_ops = {kRelu}},
    {.name = "FusedSumRelu",
     .x = {1, 8, 4, 4},
     .out_channels = 8,
     .kernel = {2, 2},
     .strides = {2, 2},
     .post_ops = {kSum, kRelu}},
    {.name = "FusedLeakySumSigmoid", .x = {1, 4, 4, 4}, .out_channels = 8, .post_ops = {kLeaky, kSum, kSigmoid}},
    {.name = "BroadcastResidualUnfused",
     .x = {2, 4, 3, 3},
     .out_channels = 6,
     .strides = {2, 2},
     .post_ops = {kSum, kRelu},
     .broadcast_residual = true},
};

INSTANTIATE_TEST_SUITE_P(Geometries, ConvTransposeTest,
                         ::testing::Combine(::testing::ValuesIn(kDeconvCases), ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param).name +
                                  (std::get<1>(info.param) ? "_ConstantWeights" : "_RuntimeWeights");
                         });

class ConvTransposeGradientTest : public ::testing::TestWithParam<DeconvCase> {};

TEST_P(ConvTransposeGradientTest, MatchesFiniteDifferences) {
  const DeconvCase& c = GetParam();
  const Shape w_shape = {c.x[1], c.out_channels / c.group, c.kernel[0], c.kernel[1]};
  const std::vector<Tensor> inputs = {RandomTensor(c.x, 5), RandomTensor(w_shape, 6),
                                      RandomTensor({c.out_channels}, 7)};
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*Make(ParamsOf(c)), inputs, {0, 1, 2}));
}

const DeconvCase kGradientCases[] = {
    {.name = "Strided", .x = {2, 3, 3, 4}, .strides = {2, 3}, .pads_begin = {1, 0}, .pads_end = {0, 1}},
    {.name = "GroupedDilated", .x = {1, 4, 3, 3}, .out_channels = 6, .group = 2, .dilations = {2, 1}},
    {.name = "OutputPadding",
     .x = {1, 2, 3, 3},
     .out_channels = 2,
     .kernel = {2, 2},
     .strides = {2, 2},
     .output_padding = {1, 1}},
};

INSTANTIATE_TEST_SUITE_P(Geometries, ConvTransposeGradientTest, ::testing::ValuesIn(kGradientCases),
                         [](const auto& info) { return info.param.name; });

TEST(ConvTransposeBackward, RefusesFusedPostOps) {
  ConvTransposeParams params;
  params.post_ops = {kRelu};
  const std::vector<Tensor> inputs = {RandomTensor({1, 1, 2, 2}, 1), RandomTensor({1, 1, 2, 2}, 2)};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, Make(params)->Reference(inputs));
  EXPECT_EQ(Make(params)->Backward(inputs, y, y, {}).status().code(), StatusCode::kUnimplemented);
}

TEST(ConvTransposeGeometry, KernelEqualToStrideWithoutPadsUpsamples) {
  ConvTransposeParams params;
  params.window.kernel = {2, 4};
  params.window.strides = {2, 4};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto g, Make(params)->Geometry({}));
  EXPECT_EQ(g.upsample, (std::array<int64_t, 2>{2, 4}));
  params.window.auto_pad = AutoPad::kSameUpper;  // resolves to zero pads when kernel == stride
  FOVEA_ASSERT_OK_AND_ASSIGN(g, Make(params)->Geometry({}));
  EXPECT_EQ(g.upsample, (std::array<int64_t, 2>{2, 4}));

  ConvTransposeParams padded = params;
  padded.window.auto_pad = AutoPad::kNotSet;
  padded.window.pads_begin = padded.window.pads_end = {1, 1};
  EXPECT_EQ(Make(padded)->Geometry({}).status().code(), StatusCode::kFailedPrecondition);
  ConvTransposeParams wider = params;
  wider.window.kernel = {4, 4};
  EXPECT_FALSE(Make(wider)->Geometry({}).ok());
  ConvTransposeParams unknown_kernel = params;
  unknown_kernel.window.kernel.clear();
  EXPECT_FALSE(Make(unknown_kernel)->Geometry({}).ok());
  ConvTransposeParams extra_row = params;
  extra_row.output_padding = {1, 0};
  EXPECT_FALSE(Make(extra_row)->Geometry({}).ok());
}

}  // namespace
}  // namespace fovea::engine::testing
