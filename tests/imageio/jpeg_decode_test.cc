// JPEG decoding of gray, RGB and Adobe CMYK files written by libjpeg: lossy, so compared within tolerances.

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "imageio/image.h"
#include "tests/imageio/test_encoders.h"

namespace fovea::imageio {
namespace {

constexpr int kWidth = 48;
constexpr int kHeight = 32;
constexpr int kQuality = 95;
// At quality 95 a smooth gradient comes back within a few levels; chroma subsampling costs a little more for RGB.
constexpr int kMaxGrayError = 4;
constexpr int kMaxRgbError = 10;
constexpr double kMaxMeanError = 2.0;

std::vector<uint8_t> Gradient(int channels) {
  std::vector<uint8_t> pixels;
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const uint8_t values[] = {static_cast<uint8_t>(x * 255 / (kWidth - 1)),
                                static_cast<uint8_t>(y * 255 / (kHeight - 1)), static_cast<uint8_t>(128 + (x - y) / 2)};
      pixels.insert(pixels.end(), values, values + channels);
    }
  }
  return pixels;
}

void ExpectClose(const Image& decoded, const std::vector<uint8_t>& expected, int max_error) {
  ASSERT_EQ(decoded.pixels.size(), expected.size());
  double total_error = 0;
  int worst = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const int error = std::abs(int{decoded.pixels[i]} - int{expected[i]});
    worst = std::max(worst, error);
    total_error += error;
  }
  EXPECT_LE(worst, max_error);
  EXPECT_LE(total_error / static_cast<double>(expected.size()), kMaxMeanError);
}

TEST(JpegDecodeTest, GrayStaysSingleChannel) {
  const std::vector<uint8_t> gray = Gradient(1);
  const std::vector<uint8_t> jpeg = testing::WriteJpeg(gray, kWidth, kHeight, testing::JpegInput::kGray, kQuality);
  ASSERT_EQ(DetectFormat(jpeg), ImageFormat::kJpeg);
  const StatusOr<Image> decoded = Decode(jpeg);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->width, kWidth);
  EXPECT_EQ(decoded->height, kHeight);
  EXPECT_EQ(decoded->channels, 1);
  ExpectClose(*decoded, gray, kMaxGrayError);
}

TEST(JpegDecodeTest, RgbDecodesToRgb) {
  const std::vector<uint8_t> rgb = Gradient(3);
  const StatusOr<Image> decoded = Decode(testing::WriteJpeg(rgb, kWidth, kHeight, testing::JpegInput::kRgb, kQuality));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->channels, 3);
  ExpectClose(*decoded, rgb, kMaxRgbError);
}

TEST(JpegDecodeTest, AdobeCmykBecomesRgb) {
  // Adobe CMYK stores inverted ink: (C', M', Y', K') = (200, 100, 50, 255) is RGB (200, 100, 50) and K' = 128 halves
  // it. Each half of the image is whole 8x8 blocks of one colour, so compression is nearly lossless here.
  constexpr int kSide = 16;
  std::vector<uint8_t> cmyk;
  std::vector<uint8_t> expected_rgb;
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      const bool dark = x >= kSide / 2;
      cmyk.insert(cmyk.end(), {200, 100, 50, static_cast<uint8_t>(dark ? 128 : 255)});
      expected_rgb.insert(expected_rgb.end(),
                          {static_cast<uint8_t>(dark ? 100 : 200), static_cast<uint8_t>(dark ? 50 : 100),
                           static_cast<uint8_t>(dark ? 25 : 50)});
    }
  }
  const StatusOr<Image> decoded =
      Decode(testing::WriteJpeg(cmyk, kSide, kSide, testing::JpegInput::kCmykAdobe, kQuality));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->channels, 3);
  ExpectClose(*decoded, expected_rgb, kMaxGrayError);
}

}  // namespace
}  // namespace fovea::imageio
