// Resize in plans: where the engine runs oneDNN resampling, oneDNN must compute what the reference computes (checked
// by running the primitive itself over many sizes, modes and layouts); every plan, oneDNN or host step, matches the
// reference; gradients match finite differences; pixel geometry.

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "engine/ops/resize.h"
#include "tests/engine/resample_test_util.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using dnnl::memory;
using ops::CoordinateTransform;
using ops::NearestRounding;
using ops::ResizeMode;
using ops::SamplingParams;

// Sizes of the oneDNN sweep: up- and downsampling by integer and fractional ratios, ties included.
constexpr int64_t kSweepInputs[] = {1, 2, 3, 4, 5, 7, 8, 13, 16};
constexpr int64_t kSweepOutputs[] = {1, 2, 3, 4, 6, 7, 8, 9, 12, 16, 20, 26, 32};
constexpr int64_t kSweepChannels = 17;  // not a multiple of a channel block

std::shared_ptr<const ops::Resize> MakeResize(const SamplingParams& sampling) {
  ops::ResizeParams params;
  params.sampling = sampling;
  auto op = ops::Resize::Create(params);
  EXPECT_TRUE(op.ok()) << op.status().ToString();
  return std::shared_ptr<const ops::Resize>(std::move(op).value());
}

// Runs oneDNN resampling `algorithm` on plain x, with src in layout `tag`, into an output of `y_shape`.
Tensor RunOneDnn(dnnl::algorithm algorithm, const Tensor& x, const Shape& y_shape, memory::format_tag tag) {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc src_desc(ToDims(x.shape()), memory::data_type::f32, tag);
  const memory::desc dst_any(ToDims(y_shape), memory::data_type::f32, memory::format_tag::any);
  const dnnl::resampling_forward::primitive_desc pd(
      dnnl::resampling_forward::desc(dnnl::prop_kind::forward_inference, algorithm, src_desc, dst_any), engine);
  memory plain_src(PlainDesc(x.shape()), engine, const_cast<void*>(x.raw_data()));
  memory src(src_desc, engine), dst(pd.dst_desc(), engine);
  Tensor y(DataType::kFloat32, y_shape);
  memory plain_dst(PlainDesc(y_shape), engine, y.raw_data());
  dnnl::reorder(plain_src, src).execute(stream, plain_src, src);
  dnnl::resampling_forward(pd).execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
  dnnl::reorder(dst, plain_dst).execute(stream, dst, plain_dst);
  stream.wait();
  return y;
}

std::vector<SamplingParams> SweepSamplings() {
  std::vector<SamplingParams> all;
  const CoordinateTransform transforms[] = {
      CoordinateTransform::kHalfPixel,  CoordinateTransform::kPytorchHalfPixel, CoordinateTransform::kAlignCorners,
      CoordinateTransform::kAsymmetric, CoordinateTransform::kTfHalfPixelForNn, CoordinateTransform::kTfCropAndResize};
  const NearestRounding roundings[] = {NearestRounding::kRoundPreferFloor, NearestRounding::kRoundPreferCeil,
                                       NearestRounding::kFloor, NearestRounding::kCeil};
  for (const auto transform : transforms) {
    for (const auto rounding : roundings) all.push_back(Sampling(ResizeMode::kNearest, transform, rounding));
    all.push_back(Sampling(ResizeMode::kLinear, transform));
    all.push_back(Sampling(ResizeMode::kCubic, transform));
  }
  return all;
}

// Every configuration of the sweep that OneDnnResamplingFor hands to oneDNN is compared with what the primitive
// computes in plain and blocked layouts (run once per algorithm, sizes and layout: its result depends on nothing
// else); the count of such configurations must be large so that the sweep cannot pass by never choosing oneDNN.
TEST(ResizeOneDnn, ComputesTheReferenceWhereverTheEngineUsesIt) {
  const std::vector<float> full_roi = {0, 0, 0, 0, 1, 1, 1, 1};
  std::map<std::tuple<dnnl::algorithm, size_t, size_t, memory::format_tag>, Tensor> onednn_results;
  int checked = 0;
  for (const SamplingParams& sampling : SweepSamplings()) {
    for (size_t i = 0; i < std::size(kSweepInputs); ++i) {
      for (size_t o = 0; o < std::size(kSweepOutputs); ++o) {
        const int64_t ih = kSweepInputs[i], oh = kSweepOutputs[o];
        const int64_t iw = kSweepInputs[(i + 3) % std::size(kSweepInputs)];
        const int64_t ow = kSweepOutputs[(o + 5) % std::size(kSweepOutputs)];
        const Tensor x = RandomTensor({2, kSweepChannels, ih, iw}, static_cast<uint32_t>(ih * 100 + oh));
        const std::vector<int64_t> sizes = {2, kSweepChannels, oh, ow};
        auto target = ops::ResolveResizeTarget(x.shape(), {}, sizes, full_roi, false);
        ASSERT_TRUE(target.ok());
        FOVEA_ASSERT_OK_AND_ASSIGN(auto taps, ops::BuildResizeTaps(sampling, x.shape(), *target, full_roi));
        const auto algorithm = ops::OneDnnResamplingFor(taps);
        if (!algorithm) continue;
        Tensor expected(DataType::kFloat32, taps.output);
        ops::ResizeForward(taps, x.data<float>(), expected.data<float>());
        for (const auto tag : {memory::format_tag::nchw, memory::format_tag::nhwc, memory::format_tag::nChw16c}) {
          const auto key = std::make_tuple(*algorithm, i, o, tag);
          if (!onednn_results.contains(key)) onednn_results[key] = RunOneDnn(*algorithm, x, taps.output, tag);
          ASSERT_TRUE(TensorsNear(expected, onednn_results[key]))
              << "mode " << static_cast<int>(sampling.mode) << " transform " << static_cast<int>(sampling.transform)
              << " rounding " << static_cast<int>(sampling.rounding) << " " << ih << "x" << iw << " -> " << oh << "x"
              << ow << " layout " << static_cast<int>(tag);
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

// PyTorch's F.interpolate exports: nearest (asymmetric + floor), bilinear with align_corners=False (half_pixel or
// pytorch_half_pixel) run on oneDNN at the integer and fractional ratios where oneDNN agrees; align_corners=True and
// cubic never do (oneDNN has neither).
TEST(ResizeOneDnn, PyTorchExportsTakeTheFastPath) {
  const auto algorithm_for = [](const SamplingParams& sampling, const Shape& x, const std::vector<float>& scales) {
    auto target = ops::ResolveResizeTarget(x, scales, {}, {}, false);
    EXPECT_TRUE(target.ok());
    auto taps = ops::BuildResizeTaps(sampling, x, *target, {});
    EXPECT_TRUE(taps.ok());
    return ops::OneDnnResamplingFor(*taps);
  };
  const Shape x = {1, 8, 13, 20};
  const auto nearest = Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor);
  const auto bilinear = Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel);
  const auto pytorch = Sampling(ResizeMode::kLinear, CoordinateTransform::kPytorchHalfPixel);
  const auto corners = Sampling(ResizeMode::kLinear, CoordinateTransform::kAlignCorners);
  for (const float scale : {2.0f, 3.0f, 4.0f, 8.0f}) {
    EXPECT_EQ(algorithm_for(nearest, x, {1, 1, scale, scale}), dnnl::algorithm::resampling_nearest) << scale;
    EXPECT_EQ(algorithm_for(bilinear, x, {1, 1, scale, scale}), dnnl::algorithm::resampling_linear) << scale;
    EXPECT_EQ(algorithm_for(pytorch, x, {1, 1, scale, scale}), dnnl::algorithm::resampling_linear) << scale;
    EXPECT_EQ(algorithm_for(corners, x, {1, 1, scale, scale}), std::nullopt) << scale;
  }
  // 20 → 10 and 13 → 6.5 (floored to 6, so the scale 0.5 is not out/in on H): linear must stay on the host.
  EXPECT_EQ(algorithm_for(bilinear, {1, 8, 12, 20}, {1, 1, 0.5f, 0.5f}), dnnl::algorithm::resampling_linear);
  EXPECT_EQ(algorithm_for(bilinear, x, {1, 1, 0.5f, 0.5f}), std::nullopt);
  EXPECT_EQ(algorithm_for(Sampling(ResizeMode::kCubic, CoordinateTransform::kHalfPixel), x, {1, 1, 2, 2}),
            std::nullopt);
  // Resizing channels is not oneDNN's.
  EXPECT_EQ(algorithm_for(nearest, x, {1, 2, 2, 2}), std::nullopt);
}

struct PlanCase {
  std::string name;
  SamplingParams sampling;
  Shape x;
  std::vector<float> scales;
  std::vector<int64_t> sizes;
  std::vector<float> roi;
  bool runtime_roi = false;
};

class ResizePlanTest : public ::testing::TestWithParam<PlanCase> {};

TEST_P(ResizePlanTest, MatchesReference) {
  const PlanCase& c = GetParam();
  const auto rank = static_cast<int64_t>(c.x.size());
  std::vector<Operand> operands = {Runtime(RandomTensor(c.x, 7)), Absent(), Absent(), Absent()};
  if (!c.roi.empty()) {
    operands[1] = c.runtime_roi ? Runtime(Floats({2 * rank}, c.roi)) : Constant(Floats({2 * rank}, c.roi));
  }
  if (!c.scales.empty()) operands[2] = Constant(Floats({rank}, c.scales));
  if (!c.sizes.empty()) operands[3] = Constant(Int64s({rank}, c.sizes));
  EXPECT_TRUE(EmitMatchesReference(MakeResize(c.sampling), operands));
}

SamplingParams Crop(float extrapolation) {
  SamplingParams s = Sampling(ResizeMode::kLinear, CoordinateTransform::kTfCropAndResize);
  s.extrapolation_value = extrapolation;
  return s;
}

SamplingParams CubicExcludeOutside() {
  SamplingParams s = Sampling(ResizeMode::kCubic, CoordinateTransform::kHalfPixel);
  s.cubic_coeff_a = -0.5f;
  s.exclude_outside = true;
  return s;
}

const PlanCase kPlanCases[] = {
    {"NearestTorchExport",
     Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor),
     {2, 5, 7, 9},
     {1, 1, 2, 2},
     {},
     {}},
    {"NearestTorchExportFactor3",
     Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor),
     {1, 16, 5, 6},
     {1, 1, 3, 3},
     {},
     {}},
    {"NearestHalfPixelDownTies",
     Sampling(ResizeMode::kNearest, CoordinateTransform::kHalfPixel),
     {1, 3, 8, 8},
     {},
     {1, 3, 4, 4},
     {}},
    {"NearestPreferCeilDown",
     Sampling(ResizeMode::kNearest, CoordinateTransform::kHalfPixel, NearestRounding::kRoundPreferCeil),
     {1, 3, 8, 8},
     {},
     {1, 3, 4, 4},
     {}},
    {"NearestAlignCornersFloor",
     Sampling(ResizeMode::kNearest, CoordinateTransform::kAlignCorners, NearestRounding::kFloor),
     {1, 2, 4, 5},
     {},
     {1, 2, 7, 9},
     {}},
    {"NearestTfHalfPixel",
     Sampling(ResizeMode::kNearest, CoordinateTransform::kTfHalfPixelForNn),
     {1, 2, 6, 6},
     {},
     {1, 2, 4, 3},
     {}},
    {"BilinearHalfPixel",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel),
     {2, 4, 6, 7},
     {1, 1, 2, 2},
     {},
     {}},
    {"BilinearPytorchHalfPixelSizes",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kPytorchHalfPixel),
     {1, 3, 5, 9},
     {},
     {1, 3, 1, 4},
     {}},
    {"BilinearHalfPixelFractional",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel),
     {1, 3, 13, 10},
     {1, 1, 0.5f, 1.5f},
     {},
     {}},
    {"BilinearAlignCorners",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kAlignCorners),
     {1, 3, 5, 6},
     {1, 1, 2, 2},
     {},
     {}},
    {"LinearAsymmetric",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kAsymmetric),
     {1, 2, 4, 4},
     {1, 1, 2, 0.5f},
     {},
     {}},
    {"LinearOneD", Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel), {12}, {}, {5}, {}},
    {"LinearThreeAxes",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel),
     {1, 2, 3, 4, 5},
     {1, 1, 2, 1.5f, 0.6f},
     {},
     {}},
    {"LinearResizesChannels",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel),
     {1, 4, 3, 3},
     {},
     {1, 6, 3, 3},
     {}},
    {"Cubic", Sampling(ResizeMode::kCubic, CoordinateTransform::kHalfPixel), {1, 2, 5, 7}, {1, 1, 2, 2}, {}, {}},
    {"CubicExcludeOutsideDown", CubicExcludeOutside(), {1, 2, 9, 8}, {1, 1, 0.5f, 0.75f}, {}, {}},
    {"CubicAlignCorners",
     Sampling(ResizeMode::kCubic, CoordinateTransform::kAlignCorners),
     {1, 1, 4, 4},
     {},
     {1, 1, 7, 3},
     {}},
    {"CropConstantRoi", Crop(0.5f), {1, 2, 6, 6}, {}, {1, 2, 4, 5}, {0, 0, 0.2f, -0.1f, 1, 1, 0.8f, 1.3f}},
    {"CropRuntimeRoi", Crop(-2.0f), {1, 2, 6, 6}, {}, {1, 2, 3, 5}, {0, 0, 0.1f, 0.3f, 1, 1, 0.9f, 1.2f}, true},
    {"CropScales", Crop(0.0f), {1, 1, 8, 8}, {1, 1, 2, 1}, {}, {0, 0, 0.25f, 0, 1, 1, 0.75f, 1}},
};

INSTANTIATE_TEST_SUITE_P(Configurations, ResizePlanTest, ::testing::ValuesIn(kPlanCases),
                         [](const auto& info) { return info.param.name; });

TEST(ResizePlan, RuntimeScalesAreUnimplemented) {
  const auto op = MakeResize(Sampling(ResizeMode::kNearest, CoordinateTransform::kHalfPixel));
  auto y = RunSession(
      OneNodeGraph(op, {Runtime(RandomTensor({1, 1, 2, 2}, 1)), Absent(), Runtime(Floats({4}, {1, 1, 2, 2}))}),
      {RandomTensor({1, 1, 2, 2}, 1), Floats({4}, {1, 1, 2, 2})});
  ASSERT_FALSE(y.ok());
  EXPECT_EQ(y.status().code(), StatusCode::kUnimplemented) << y.status().ToString();
}

TEST(UpsamplePlan, Opset9ScalesInputMatchesReference) {
  ops::ResizeParams params;
  params.upsample = true;
  params.inputs = ops::ResizeInputs::kScales;
  params.sampling = Sampling(ResizeMode::kLinear, CoordinateTransform::kAsymmetric, NearestRounding::kFloor);
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> linear, ops::Resize::Create(params));
  EXPECT_TRUE(
      EmitMatchesReference(linear, {Runtime(RandomTensor({1, 3, 4, 5}, 2)), Constant(Floats({4}, {1, 1, 2, 3}))}));
  params.sampling.mode = ResizeMode::kNearest;
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> nearest, ops::Resize::Create(params));
  EXPECT_TRUE(
      EmitMatchesReference(nearest, {Runtime(RandomTensor({1, 3, 4, 5}, 2)), Constant(Floats({4}, {1, 1, 2, 3}))}));
}

struct GradientCase {
  std::string name;
  SamplingParams sampling;
  std::vector<float> scales;
  std::vector<float> roi;
};

class ResizeGradientTest : public ::testing::TestWithParam<GradientCase> {};

TEST_P(ResizeGradientTest, MatchesFiniteDifferences) {
  const GradientCase& c = GetParam();
  const auto op = MakeResize(c.sampling);
  const std::vector<Tensor> inputs = {RandomTensor({1, 2, 4, 5}, 3), c.roi.empty() ? Tensor() : Floats({8}, c.roi),
                                      Floats({4}, c.scales), Tensor()};
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs, {0}));
}

const GradientCase kGradientCases[] = {
    {"NearestUp",
     Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor),
     {1, 1, 2, 3},
     {}},
    {"NearestDown", Sampling(ResizeMode::kNearest, CoordinateTransform::kHalfPixel), {1, 1, 0.5f, 0.6f}, {}},
    {"LinearUp", Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel), {1, 1, 2, 2.5f}, {}},
    {"LinearAlignCornersDown",
     Sampling(ResizeMode::kLinear, CoordinateTransform::kAlignCorners),
     {1, 1, 0.75f, 0.6f},
     {}},
    {"CubicExcludeOutside", CubicExcludeOutside(), {1, 1, 2, 1.5f}, {}},
    {"Crop", Crop(3.0f), {1, 1, 2, 2}, {0, 0, -0.2f, 0.1f, 1, 1, 0.9f, 1.4f}},
};

INSTANTIATE_TEST_SUITE_P(Modes, ResizeGradientTest, ::testing::ValuesIn(kGradientCases),
                         [](const auto& info) { return info.param.name; });

TEST(ResizeGeometry, IntegerAlignedUpsamplingIsAnUpsampleFactor) {
  const std::vector<float> by_2_3 = {1, 1, 2, 3};
  const auto nearest =
      MakeResize(Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto g, nearest->GeometryForScales(by_2_3));
  EXPECT_EQ(g.upsample, (std::array<int64_t, 2>{2, 3}));
  EXPECT_EQ(g.stride, (std::array<int64_t, 2>{1, 1}));
  const auto bilinear = MakeResize(Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel));
  FOVEA_ASSERT_OK_AND_ASSIGN(g, bilinear->GeometryForScales(by_2_3));
  EXPECT_EQ(g.upsample, (std::array<int64_t, 2>{2, 3}));
  // Shifted grids, fractional scales, channel resizing and an input the op cannot see have no geometry.
  const auto corners = MakeResize(Sampling(ResizeMode::kLinear, CoordinateTransform::kAlignCorners));
  EXPECT_EQ(corners->GeometryForScales(by_2_3).status().code(), StatusCode::kFailedPrecondition);
  const auto rounded = MakeResize(Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric));
  EXPECT_FALSE(rounded->GeometryForScales(std::vector<float>{1, 1, 3, 3}).ok());  // 2/3 rounds to pixel 1, not 0
  EXPECT_FALSE(bilinear->GeometryForScales(std::vector<float>{1, 1, 1.5f, 2}).ok());
  EXPECT_FALSE(bilinear->GeometryForScales(std::vector<float>{1, 2, 2, 2}).ok());
  EXPECT_EQ(bilinear->Geometry({}).status().code(), StatusCode::kFailedPrecondition);
}

TEST(ResizeGeometry, Upsample7AnswersFromItsAttribute) {
  ops::ResizeParams params;
  params.upsample = true;
  params.inputs = ops::ResizeInputs::kScalesAttribute;
  params.scales = {1, 1, 4, 4};
  params.sampling = Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Resize::Create(params));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto g, op->Geometry({}));
  EXPECT_EQ(g.upsample, (std::array<int64_t, 2>{4, 4}));
  params.sampling.mode = ResizeMode::kLinear;  // Upsample's linear is asymmetric: its grid is shifted
  FOVEA_ASSERT_OK_AND_ASSIGN(op, ops::Resize::Create(params));
  EXPECT_FALSE(op->Geometry({}).ok());
}

}  // namespace
}  // namespace fovea::engine::testing
