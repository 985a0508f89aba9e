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
  const InputSpec spec{3, 1, 2, {0.5F, 0.0F, 0.2F}, {0.5F, 1.0F, 0.1F}, {}};
  std::vector<float> dst(6);
  ASSERT_TRUE(PrepareImage(PixelTensor(1, 2, 3, data), spec, {}, dst).ok());
  // Planar: channel 0 of both pixels, then channel 1, then channel 2.
  const std::vector<float> expected = {1.0F, -1.0F, 0.0F, 1.0F, 0.0F, 2.0F};
  for (size_t i = 0; i < dst.size(); ++i) EXPECT_NEAR(dst[i], expected[i], kTolerance) << i;
}

TEST(ImagePipelineTest, GrayIsReplicatedForAnRgbModelAndResizedToItsSize) {
  const InputSpec spec{3, 4, 4, {}, {}, {}};
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
  const InputSpec spec{1, 2, 2, {}, {}, {}};
  std::vector<float> dst(4);
  ASSERT_TRUE(PrepareImage(input, spec, {}, dst).ok());
  EXPECT_EQ(dst, (std::vector<float>{0.0F, 1.0F, 1.0F, 0.0F}));
}

TEST(ImagePipelineTest, FloatTensorIsCopiedAsIsAndMustBeFinite) {
  const InputSpec spec{1, 1, 3, {0.5F}, {0.25F}, {}};
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
  const InputSpec spec{1, 2, 2, {}, {}, {}};
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
  const InputSpec spec{1, 2, 2, {}, {}, {}};
  std::vector<float> dst(4);
  EXPECT_NE(
      PrepareImage(PixelTensor(2, 2, 2, std::string(8, '\0')), spec, {}, dst).message().find("1, 3 or 4 channels"),
      std::string::npos);
  EXPECT_NE(PrepareImage(PixelTensor(2, 0, 1, ""), spec, {}, dst).message().find("non-positive dimension"),
            std::string::npos);
  const v1::ImageInput overflow = PixelTensor(int64_t{1} << 40, int64_t{1} << 40, 1, "");
  EXPECT_EQ(PrepareImage(overflow, spec, {}, dst).code(), StatusCode::kResourceExhausted);
}

// Expected values below were computed with PIL 9.4 (Image.resize BILINEAR) and torchvision 0.14's eval transform.
imageio::Image Gray(int64_t width, int64_t height, std::vector<uint8_t> pixels) {
  return {width, height, 1, std::move(pixels)};
}

const imageio::Image kGray7x4 = Gray(7, 4, {106, 23,  1,   141, 152, 6,  27,  18, 249, 44, 73, 181, 131, 230,
                                            6,   215, 184, 187, 120, 74, 200, 99, 15,  31, 0,  153, 197, 130});

TEST(PreprocessingTest, TriangleResizeEqualsPilBilinear) {
  EXPECT_EQ(imageio::ResizeTriangle(kGray7x4, 3, 2).pixels, (std::vector<uint8_t>{92, 110, 114, 96, 110, 151}));
  EXPECT_EQ(imageio::ResizeTriangle(kGray7x4, 10, 6).pixels,
            (std::vector<uint8_t>{106, 60,  18,  2,   92,  145, 145, 43,  15,  27,  62,  103, 108, 28,  78,
                                  128, 162, 94,  96,  129, 16,  141, 200, 76,  84,  120, 169, 134, 168, 225,
                                  8,   125, 205, 164, 165, 155, 128, 96,  139, 205, 53,  87,  113, 108, 99,
                                  109, 137, 136, 149, 165, 99,  53,  19,  30,  11,  54,  155, 186, 167, 130}));
  EXPECT_EQ(imageio::ResizeTriangle(kGray7x4, 7, 4).pixels, kGray7x4.pixels) << "same size: unchanged";
}

TEST(PreprocessingTest, CentreCropRoundsHalfToEvenAndPadsLikeTorchvision) {
  const imageio::Image image =
      Gray(5, 4, {99, 56, 32, 79, 189, 235, 220, 144, 235, 188, 228, 22, 155, 135, 155, 168, 10, 208, 124, 251});
  // (5 - 2) / 2 = 1.5 rounds to 2; the 4 rows are padded by one zero row on each side to 6.
  EXPECT_EQ(imageio::CropCenter(image, 2, 6).pixels,
            (std::vector<uint8_t>{0, 0, 32, 79, 144, 235, 155, 135, 208, 124, 0, 0}));
  EXPECT_EQ(imageio::CropCenter(image, 3, 2).pixels, (std::vector<uint8_t>{220, 144, 235, 22, 155, 135}));
}

// A 6 x 4 RGB image, row-major interleaved.
const std::string kRgb6x4 = [] {
  const std::vector<int> values = {99,  139, 212, 56,  206, 72,  32,  14,  239, 79,  232, 222, 189, 230, 209,
                                   212, 230, 139, 235, 52,  118, 220, 29,  93,  144, 21,  42,  235, 73,  232,
                                   188, 250, 8,   132, 8,   125, 228, 130, 254, 22,  231, 62,  155, 156, 190,
                                   135, 144, 101, 155, 137, 18,  196, 112, 202, 168, 90,  158, 10,  183, 132,
                                   208, 78,  148, 124, 7,   30,  251, 75,  204, 112, 166, 253};
  return std::string(values.begin(), values.end());
}();

TEST(PreprocessingTest, CropModeEqualsTorchvisionEvalTransform) {
  // transforms.Resize(3), CenterCrop(2), ToTensor(), Normalize([0.5, 0.4, 0.3], [0.2, 0.25, 0.5]).
  InputSpec spec{3, 2, 2, {0.5F, 0.4F, 0.3F}, {0.2F, 0.25F, 0.5F}, {}};
  spec.preprocessing.resize = ResizeMode::kCrop;
  spec.preprocessing.shorter_side = 3;
  std::vector<float> dst(12);
  ASSERT_TRUE(PrepareImage(PixelTensor(4, 6, 3, kRgb6x4), spec, {}, dst).ok());
  const std::vector<float> expected = {-0.833333F, 0.245098F, 0.32353F,  0.970588F, -0.345098F, 1.270588F,
                                       0.047059F,  0.517647F, 0.584314F, 0.929412F, 0.254902F,  0.262745F};
  for (size_t i = 0; i < dst.size(); ++i) EXPECT_NEAR(dst[i], expected[i], 1e-5F) << i;
}

TEST(PreprocessingTest, BgrSwapsChannelsAndNhwcInterleaves) {
  // Two RGB pixels: (255, 0, 51) and (0, 255, 102).
  const std::string data = {'\xFF', '\x00', '\x33', '\x00', '\xFF', '\x66'};
  InputSpec spec{3, 1, 2, {}, {}, {}};
  spec.preprocessing.bgr = true;
  std::vector<float> dst(6);
  ASSERT_TRUE(PrepareImage(PixelTensor(1, 2, 3, data), spec, {}, dst).ok());
  const std::vector<float> planar_bgr = {0.2F, 0.4F, 0.0F, 1.0F, 1.0F, 0.0F};
  for (size_t i = 0; i < dst.size(); ++i) EXPECT_NEAR(dst[i], planar_bgr[i], kTolerance) << i;
  spec.preprocessing.bgr = false;
  spec.preprocessing.nhwc = true;
  ASSERT_TRUE(PrepareImage(PixelTensor(1, 2, 3, data), spec, {}, dst).ok());
  const std::vector<float> interleaved = {1.0F, 0.0F, 0.2F, 0.0F, 1.0F, 0.4F};
  for (size_t i = 0; i < dst.size(); ++i) EXPECT_NEAR(dst[i], interleaved[i], kTolerance) << i;
  EXPECT_EQ(spec.ImageShape(), (std::vector<int64_t>{1, 2, 3}));
}

}  // namespace
}  // namespace fovea::server
