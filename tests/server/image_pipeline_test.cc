#include "server/api/image_pipeline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "imageio/image.h"

namespace fovea::server {
namespace {

constexpr float kTolerance = 1e-6F;

v1::ImageInput PixelTensor(int64_t height, int64_t width, int64_t channels, std::string data) {
  v1::ImageInput input;
  input.mutable_tensor()->set_dtype(v1::DATA_TYPE_UINT8);
  for (int64_t dim : {height, width, channels}) input.mutable_tensor()->add_shape(dim);
  input.mutable_tensor()->set_data(std::move(data));
  return input;
}

TEST(ImagePipelineTest, PixelsAreScaledThenNormalizedPerChannel) {
  // Two RGB pixels: (255, 0, 51) and (0, 255, 102).
  const std::string data = {'\xFF', '\x00', '\x33', '\x00', '\xFF', '\x66'};
  const InputSpec spec{3, 1, 2, {0.5F, 0.0F, 0.2F}, {0.5F, 1.0F, 0.1F}};
  std::vector<float> dst(6);
  ASSERT_TRUE(PrepareImage(PixelTensor(1, 2, 3, data), spec, {}, dst).ok());
  // Planar: channel 0 of both pixels, then channel 1, then channel 2.
  const std::vector<float> expected = {1.0F, -1.0F, 0.0F, 1.0F, 0.0F, 2.0F};
  for (size_t i = 0; i < dst.size(); ++i) EXPECT_NEAR(dst[i], expected[i], kTolerance) << i;
}

TEST(ImagePipelineTest, GrayIsReplicatedForAnRgbModelAndResizedToItsSize) {
  const InputSpec spec{3, 4, 4, {}, {}};
  std::vector<float> dst(48);
  ASSERT_TRUE(PrepareImage(PixelTensor(2, 2, 1, std::string(4, '\x80')), spec, {}, dst).ok());
  for (float value : dst) EXPECT_NEAR(value, 128.0F / 255.0F, kTolerance);
}

TEST(ImagePipelineTest, EncodedPngGoesThroughTheSameSteps) {
  imageio::Image image{2, 2, 1, {0, 255, 255, 0}};
  const auto png = imageio::EncodePng(image);
  ASSERT_TRUE(png.ok());
  v1::ImageInput input;
  input.set_encoded(*png);
  const InputSpec spec{1, 2, 2, {}, {}};
  std::vector<float> dst(4);
  ASSERT_TRUE(PrepareImage(input, spec, {}, dst).ok());
  EXPECT_EQ(dst, (std::vector<float>{0.0F, 1.0F, 1.0F, 0.0F}));
}

TEST(ImagePipelineTest, FloatTensorIsCopiedAsIsAndMustBeFinite) {
  const InputSpec spec{1, 1, 3, {0.5F}, {0.25F}};
  std::vector<float> values = {-1.5F, 0.0F, 42.0F};
  v1::ImageInput input;
  input.mutable_tensor()->set_dtype(v1::DATA_TYPE_FLOAT32);
  for (int64_t dim : {1, 1, 3}) input.mutable_tensor()->add_shape(dim);
  input.mutable_tensor()->set_data(values.data(), values.size() * sizeof(float));
  std::vector<float> dst(3);
  ASSERT_TRUE(PrepareImage(input, spec, {}, dst).ok());
  EXPECT_EQ(dst, values) << "no second normalization";

  values[2] = std::numeric_limits<float>::infinity();
  input.mutable_tensor()->set_data(values.data(), values.size() * sizeof(float));
  const Status status = PrepareImage(input, spec, {}, dst);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "tensor element 2 is infinite");
}

TEST(ImagePipelineTest, LimitsAreCheckedBeforeDecoding) {
  const InputSpec spec{1, 2, 2, {}, {}};
  std::vector<float> dst(4);
  ImageLimits limits;
  limits.max_image_bytes = 8;
  limits.max_image_pixels = 16;
  v1::ImageInput big;
  big.set_encoded(std::string(9, 'x'));
  EXPECT_EQ(PrepareImage(big, spec, limits, dst).code(), StatusCode::kResourceExhausted);
  const Status too_many_pixels = PrepareImage(PixelTensor(5, 4, 1, std::string(20, '\0')), spec, {8 << 10, 16}, dst);
  EXPECT_EQ(too_many_pixels.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(too_many_pixels.message().find("4x5 pixels, over the limit of 16"), std::string::npos)
      << too_many_pixels.message();
}

TEST(ImagePipelineTest, MalformedPixelTensorsNameTheProblem) {
  const InputSpec spec{1, 2, 2, {}, {}};
  std::vector<float> dst(4);
  EXPECT_NE(
      PrepareImage(PixelTensor(2, 2, 2, std::string(8, '\0')), spec, {}, dst).message().find("1, 3 or 4 channels"),
      std::string::npos);
  EXPECT_NE(PrepareImage(PixelTensor(2, 0, 1, ""), spec, {}, dst).message().find("non-positive dimension"),
            std::string::npos);
  const v1::ImageInput overflow = PixelTensor(int64_t{1} << 40, int64_t{1} << 40, 1, "");
  EXPECT_EQ(PrepareImage(overflow, spec, {}, dst).code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace fovea::server
