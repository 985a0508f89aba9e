// ConvertChannels, Resize and ToPlanarFloat against hand-computed values.

#include <sys/resource.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "imageio/image.h"

namespace fovea::imageio {
namespace {

constexpr float kFloatTolerance = 1e-6f;

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define FOVEA_RESERVES_SHADOW_MEMORY 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FOVEA_RESERVES_SHADOW_MEMORY 1
#endif

Image MakeImage(int64_t width, int64_t height, int64_t channels, std::vector<uint8_t> pixels) {
  return Image{.width = width, .height = height, .channels = channels, .pixels = std::move(pixels)};
}

TEST(ConvertChannelsTest, RgbToGrayUsesBt601Luma) {
  const Image gray = ConvertChannels(MakeImage(3, 1, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255}), 1);
  ASSERT_EQ(gray.channels, 1);
  EXPECT_EQ(gray.pixels, (std::vector<uint8_t>{76, 150, 29}));  // 0.299, 0.587, 0.114 of 255, rounded
}

TEST(ConvertChannelsTest, GrayToRgbaReplicatesAndAddsOpaqueAlpha) {
  const Image rgba = ConvertChannels(MakeImage(2, 1, 1, {7, 200}), 4);
  EXPECT_EQ(rgba.pixels, (std::vector<uint8_t>{7, 7, 7, 255, 200, 200, 200, 255}));
}

TEST(ConvertChannelsTest, DroppingAlphaCompositesOverBlack) {
  const Image rgba = MakeImage(1, 1, 4, {200, 100, 50, 128});
  EXPECT_EQ(ConvertChannels(rgba, 3).pixels, (std::vector<uint8_t>{100, 50, 25}));
  EXPECT_EQ(ConvertChannels(rgba, 1).pixels, (std::vector<uint8_t>{LumaBt601(100, 50, 25)}));
}

TEST(ConvertChannelsTest, UnsupportedChannelCountGivesEmptyImage) {
  EXPECT_TRUE(ConvertChannels(MakeImage(1, 1, 3, {1, 2, 3}), 5).pixels.empty());
}

TEST(ResizeTest, UpscaleUsesHalfPixelCentersAndClampsEdges) {
  // Output x = 0..3 samples source x = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  EXPECT_EQ(Resize(MakeImage(2, 1, 1, {0, 100}), 4, 1).pixels, (std::vector<uint8_t>{0, 25, 75, 100}));
}

TEST(ResizeTest, BilinearInTwoDimensions) {
  const Image out = Resize(MakeImage(2, 2, 1, {0, 100, 100, 200}), 4, 4);
  const std::vector<uint8_t> expected = {0,   25,  75,  100,  //
                                         25,  50,  100, 125,  //
                                         75,  100, 150, 175,  //
                                         100, 125, 175, 200};
  EXPECT_EQ(out.pixels, expected);
}

TEST(ResizeTest, ModestShrinkIsBilinear) {
  // 3 → 2 samples source x = 0.25 and 1.75: 0.75*0 + 0.25*90 = 22.5 → 23 and 0.25*90 + 0.75*30 = 45.
  EXPECT_EQ(Resize(MakeImage(3, 1, 1, {0, 90, 30}), 2, 1).pixels, (std::vector<uint8_t>{23, 45}));
}

TEST(ResizeTest, LargeShrinkAveragesAreas) {
  // Bilinear would sample x = 1 and x = 4 (both 0) and lose the bright pixels; area averaging keeps their energy.
  EXPECT_EQ(Resize(MakeImage(6, 1, 1, {0, 0, 90, 0, 0, 90}), 2, 1).pixels, (std::vector<uint8_t>{30, 30}));
  // Non-integer factor 2.5: [0, 2.5) = (10 + 20 + 0.5*30) / 2.5 and [2.5, 5) = (0.5*30 + 40 + 50) / 2.5.
  EXPECT_EQ(Resize(MakeImage(5, 1, 1, {10, 20, 30, 40, 50}), 2, 1).pixels, (std::vector<uint8_t>{18, 42}));
}

TEST(ResizeTest, AxesAreIndependentAndChannelsStaySeparate) {
  // Width shrinks 4 → 1 (area), height grows 1 → 2 (bilinear, a single row replicates).
  const Image out = Resize(MakeImage(4, 1, 3, {0, 255, 8, 40, 255, 8, 80, 255, 8, 120, 255, 8}), 1, 2);
  EXPECT_EQ(out.width, 1);
  EXPECT_EQ(out.height, 2);
  EXPECT_EQ(out.channels, 3);
  EXPECT_EQ(out.pixels, (std::vector<uint8_t>{60, 255, 8, 60, 255, 8}));
}

// Two columns (0 and 200) a thousand rows tall: the height shrinks by area, the width grows bilinearly. The same
// image transposed gives the transposed result, whichever pass Resize runs first.
TEST(ResizeTest, TallThinAndWideShortImagesGiveTheSameValues) {
  constexpr int64_t kLength = 1000;
  std::vector<uint8_t> tall, wide(2 * kLength);
  for (int64_t y = 0; y < kLength; ++y) tall.insert(tall.end(), {0, 200});
  std::fill(wide.begin() + kLength, wide.end(), 200);
  EXPECT_EQ(Resize(MakeImage(2, kLength, 1, tall), 4, 4).pixels,
            (std::vector<uint8_t>{0, 50, 150, 200, 0, 50, 150, 200, 0, 50, 150, 200, 0, 50, 150, 200}));
  EXPECT_EQ(Resize(MakeImage(kLength, 2, 1, wide), 4, 4).pixels,
            (std::vector<uint8_t>{0, 0, 0, 0, 50, 50, 50, 50, 150, 150, 150, 150, 200, 200, 200, 200}));
}

#ifndef FOVEA_RESERVES_SHADOW_MEMORY
// Death-test body: resizes `image` (one uniform value) to 28 x 28 within a 1 GiB address space; exit code 0 when the
// result is right.
[[noreturn]] void ResizeInOneGibibyte(const Image& image) {
  constexpr rlim_t kAddressSpace = rlim_t{1} << 30;
  const rlimit limit{kAddressSpace, kAddressSpace};
  if (setrlimit(RLIMIT_AS, &limit) != 0) std::exit(2);
  const Image out = Resize(image, 28, 28);
  std::exit(out.pixels == std::vector<uint8_t>(28 * 28, image.pixels.front()) ? 0 : 1);
}
#endif

// Resized horizontally first, every row of a 1 x 16,000,000 image (the decoder's side limit keeps such images out of
// the server; Resize itself has none) would become 28 floats, 1.8 GB before the vertical pass. The whole resize must
// fit in a small address space.
TEST(ResizeTest, TallThinImageResizesWithoutExpandingEveryRow) {
#ifdef FOVEA_RESERVES_SHADOW_MEMORY
  GTEST_SKIP() << "sanitizers reserve terabytes of address space for their shadow memory";
#else
  constexpr int64_t kHeight = 16'000'000;
  const Image tall = MakeImage(1, kHeight, 1, std::vector<uint8_t>(kHeight, 77));
  EXPECT_EXIT(ResizeInOneGibibyte(tall), ::testing::ExitedWithCode(0), "");
#endif
}

TEST(ResizeTest, SameSizeIsIdentityAndBadSizesGiveEmpty) {
  const Image image = MakeImage(3, 2, 1, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(Resize(image, 3, 2).pixels, image.pixels);
  EXPECT_TRUE(Resize(image, 0, 2).pixels.empty());
}

TEST(ToPlanarFloatTest, WritesChwWithMeanAndStd) {
  const Image image = MakeImage(2, 1, 3, {255, 0, 51, 0, 255, 102});
  const std::vector<float> mean = {0.5f, 0.5f, 0.5f};
  const std::vector<float> std = {0.5f, 0.25f, 0.2f};
  std::vector<float> planar(6);
  ToPlanarFloat(image, mean, std, planar.data());
  const std::vector<float> expected = {1.0f, -1.0f, -2.0f, 2.0f, -1.5f, -0.5f};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(planar[i], expected[i], kFloatTolerance) << "index " << i;
}

TEST(ToPlanarFloatTest, WithoutMeanAndStdScalesToUnitRange) {
  std::vector<float> planar(2);
  ToPlanarFloat(MakeImage(2, 1, 1, {255, 51}), {}, {}, planar.data());
  EXPECT_NEAR(planar[0], 1.0f, kFloatTolerance);
  EXPECT_NEAR(planar[1], 0.2f, kFloatTolerance);
}

}  // namespace
}  // namespace fovea::imageio
