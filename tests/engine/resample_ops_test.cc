// Resize and Upsample: the reference kernel against hand-computed values, oneDNN's resampling against the reference
// wherever the engine would use it, the plans against the reference, gradients and pixel geometry.

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/ops/resize.h"
#include "tests/engine/resample_test_util.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::CoordinateTransform;
using ops::NearestRounding;
using ops::ResizeMode;
using ops::SamplingParams;

std::shared_ptr<const ops::Resize> MakeResize(const SamplingParams& sampling) {
  ops::ResizeParams params;
  params.sampling = sampling;
  auto op = ops::Resize::Create(params);
  EXPECT_TRUE(op.ok()) << op.status().ToString();
  return std::shared_ptr<const ops::Resize>(std::move(op).value());
}

// Runs the reference kernel on X with constant scales or sizes (Resize-11 inputs: X, roi, scales, sizes).
Tensor ResizeReference(const SamplingParams& sampling, const Tensor& x, const std::vector<float>& scales,
                       const std::vector<int64_t>& sizes, const std::vector<float>& roi = {}) {
  const auto rank = static_cast<int64_t>(x.rank());
  std::vector<Tensor> inputs = {x, roi.empty() ? Tensor() : Floats({2 * rank}, roi),
                                scales.empty() ? Tensor() : Floats({rank}, scales),
                                sizes.empty() ? Tensor() : Int64s({rank}, sizes)};
  auto y = MakeResize(sampling)->Reference(inputs);
  EXPECT_TRUE(y.ok()) << y.status().ToString();
  return y.ok() ? (*y)[0] : Tensor();
}

TEST(ResizeReference, NearestAsymmetricFloorRepeatsPixels) {
  const Tensor y =
      ResizeReference(Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor),
                      Floats({1, 1, 2, 2}, {1, 2, 3, 4}), {1, 1, 2, 3}, {});
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 4, 6}, {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,  //
                                                3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}),
                          y));
}

TEST(ResizeReference, NearestRoundingModesBreakTiesAsNamed) {
  // Halving with half_pixel samples at 0.5 and 2.5: exactly between two pixels.
  const Tensor x = Floats({4}, {10, 20, 30, 40});
  const auto run = [&](NearestRounding r) {
    return ResizeReference(Sampling(ResizeMode::kNearest, CoordinateTransform::kHalfPixel, r), x, {}, {2});
  };
  EXPECT_TRUE(TensorsNear(Floats({2}, {10, 30}), run(NearestRounding::kRoundPreferFloor)));
  EXPECT_TRUE(TensorsNear(Floats({2}, {20, 40}), run(NearestRounding::kRoundPreferCeil)));
  EXPECT_TRUE(TensorsNear(Floats({2}, {10, 30}), run(NearestRounding::kFloor)));
  EXPECT_TRUE(TensorsNear(Floats({2}, {20, 40}), run(NearestRounding::kCeil)));
}

TEST(ResizeReference, LinearHalfPixelClampsAtTheEdges) {
  // Samples at −0.25, 0.25, 0.75, 1.25: the outer two clamp to the edge pixels.
  const Tensor y = ResizeReference(Sampling(ResizeMode::kLinear, CoordinateTransform::kHalfPixel),
                                   Floats({1, 1, 1, 2}, {1, 3}), {1, 1, 1, 2}, {});
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 1, 4}, {1, 1.5, 2.5, 3}), y));
}

TEST(ResizeReference, LinearAlignCornersKeepsTheCorners) {
  const Tensor y = ResizeReference(Sampling(ResizeMode::kLinear, CoordinateTransform::kAlignCorners),
                                   Floats({3}, {0, 2, 4}), {}, {5});
  EXPECT_TRUE(TensorsNear(Floats({5}, {0, 1, 2, 3, 4}), y));
  // With scales, align_corners spans in · scale (unfloored): 4 · 0.6 = 2.4, so output 1 samples 3 / 1.4.
  const Tensor down = ResizeReference(Sampling(ResizeMode::kLinear, CoordinateTransform::kAlignCorners),
                                      Floats({4}, {1, 2, 3, 4}), {0.6f}, {});
  EXPECT_TRUE(TensorsNear(Floats({2}, {1, 1 + 3 / 1.4f}), down));
}

TEST(ResizeReference, CubicUsesKeysWeights) {
  // Asymmetric ×2 samples output 3 at 1.5: weights 0.125a, 0.5 − 0.125a, 0.5 − 0.125a, 0.125a with a = −0.75.
  const Tensor x = Floats({4}, {1, 2, 4, 8});
  const Tensor y = ResizeReference(Sampling(ResizeMode::kCubic, CoordinateTransform::kAsymmetric), x, {2}, {});
  ASSERT_EQ(y.shape(), Shape{8});
  EXPECT_NEAR(y.floats()[3], -0.09375 * 1 + 0.59375 * 2 + 0.59375 * 4 - 0.09375 * 8, 1e-6);
  // exclude_outside drops the tap at −1 for output 1 (sample 0.5) and renormalizes the other three.
  SamplingParams exclude = Sampling(ResizeMode::kCubic, CoordinateTransform::kAsymmetric);
  exclude.exclude_outside = true;
  const Tensor e = ResizeReference(exclude, x, {2}, {});
  EXPECT_NEAR(e.floats()[1], (0.59375 * 1 + 0.59375 * 2 - 0.09375 * 4) / 1.09375, 1e-6);
}

TEST(ResizeReference, CropAndResizeExtrapolatesOutsideTheInput) {
  SamplingParams crop = Sampling(ResizeMode::kLinear, CoordinateTransform::kTfCropAndResize);
  crop.extrapolation_value = 10.0f;
  // roi [0.5, 1.5] over 4 pixels samples at 1.5, 3 and 4.5 (outside).
  const Tensor y = ResizeReference(crop, Floats({4}, {1, 2, 3, 4}), {}, {3}, {0.5f, 1.5f});
  EXPECT_TRUE(TensorsNear(Floats({3}, {2.5, 4, 10}), y));
}

TEST(ResizeReference, OutputSizeFloorsInputTimesScaleInFloat) {
  // 10 · 0.7f is 6.99999988 in exact arithmetic but 7 in float, which is what the exporter meant.
  const Tensor y = ResizeReference(Sampling(ResizeMode::kNearest, CoordinateTransform::kHalfPixel),
                                   RandomTensor({1, 1, 10, 5}, 1), {1, 1, 0.7f, 0.5f}, {});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 7, 2}));
}

TEST(ResizeReference, RejectsMissingOrConflictingParameters) {
  const auto op = MakeResize(Sampling(ResizeMode::kNearest, CoordinateTransform::kHalfPixel));
  const Tensor x = RandomTensor({1, 1, 2, 2}, 1);
  EXPECT_FALSE(op->Reference(std::vector<Tensor>{x}).ok());
  EXPECT_FALSE(
      op->Reference(std::vector<Tensor>{x, Tensor(), Floats({4}, {1, 1, 2, 2}), Int64s({4}, {1, 1, 4, 4})}).ok());
  EXPECT_FALSE(op->Reference(std::vector<Tensor>{x, Tensor(), Floats({2}, {2, 2})}).ok());
}

TEST(UpsampleReference, Opset7TakesScalesFromItsAttribute) {
  ops::ResizeParams params;
  params.upsample = true;
  params.inputs = ops::ResizeInputs::kScalesAttribute;
  params.scales = {1, 1, 2, 2};
  params.sampling = Sampling(ResizeMode::kNearest, CoordinateTransform::kAsymmetric, NearestRounding::kFloor);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::Resize::Create(params));
  EXPECT_EQ(op->type(), "Upsample");
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, op->Reference(std::vector<Tensor>{Floats({1, 1, 1, 2}, {5, 7})}));
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 2, 4}, {5, 5, 7, 7, 5, 5, 7, 7}), y[0]));
  params.scales.clear();
  EXPECT_FALSE(ops::Resize::Create(params).ok());
}

}  // namespace
}  // namespace fovea::engine::testing
