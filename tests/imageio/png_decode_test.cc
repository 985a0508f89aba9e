// PNG decoding: every colour type and bit depth, written by an independent encoder, decodes to the expected 8-bit
// pixels; EncodePng output decodes back unchanged.

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "imageio/image.h"
#include "tests/imageio/test_encoders.h"

namespace fovea::imageio {
namespace {

using testing::PngSpec;

constexpr uint32_t kWidth = 5;
constexpr uint32_t kHeight = 3;
constexpr int kMax16 = 65535;

// Deterministic samples covering the whole range of a bit depth, different per position and channel.
std::vector<uint16_t> RampSamples(uint32_t count, int bit_depth) {
  const uint32_t max_value = (1u << bit_depth) - 1;
  std::vector<uint16_t> samples(count);
  for (uint32_t i = 0; i < count; ++i) samples[i] = static_cast<uint16_t>((i * 7919u + 13u) % (max_value + 1));
  if (count > 1) {
    samples[0] = 0;
    samples[1] = static_cast<uint16_t>(max_value);
  }
  return samples;
}

// What a decoder must output for one sample: 8-bit and below-8-bit gray scale to 0..255, 16-bit rounds v * 255 / 65535.
uint8_t Expected8Bit(uint16_t sample, int bit_depth) {
  const double max_value = (1 << bit_depth) - 1;
  return static_cast<uint8_t>(std::lround(sample * 255.0 / max_value));
}

// The oracle: expands a spec to the Image Decode promises (gray+alpha → RGBA, palette → RGB(A), tRNS key → alpha).
Image ExpectedImage(const PngSpec& spec) {
  const int in_channels = testing::ChannelsOf(spec.color_type);
  const bool palette = spec.color_type == testing::kPalette;
  const bool keyed = !spec.trns.empty() && !palette;
  int64_t out_channels = in_channels;
  if (palette) out_channels = spec.trns.empty() ? 3 : 4;
  if (spec.color_type == testing::kGrayAlpha || keyed) out_channels = 4;
  Image image{.width = spec.width, .height = spec.height, .channels = out_channels, .pixels = {}};
  for (size_t p = 0; p < static_cast<size_t>(spec.width) * spec.height; ++p) {
    const uint16_t* in = spec.samples.data() + p * in_channels;
    std::vector<uint8_t> rgba;
    if (palette) {
      const size_t entry = size_t{3} * in[0];
      rgba = {spec.palette[entry], spec.palette[entry + 1], spec.palette[entry + 2],
              in[0] < spec.trns.size() ? spec.trns[in[0]] : uint8_t{255}};
    } else {
      const bool gray = in_channels <= 2;
      for (int c = 0; c < 3; ++c) rgba.push_back(Expected8Bit(in[gray ? 0 : c], spec.bit_depth));
      const bool has_alpha = in_channels == 2 || in_channels == 4;
      rgba.push_back(has_alpha ? Expected8Bit(in[in_channels - 1], spec.bit_depth) : uint8_t{255});
      if (keyed) {
        // tRNS for gray holds one 16-bit sample, for RGB three; a pixel equal to the key is fully transparent.
        bool matches = true;
        for (int c = 0; c < in_channels; ++c)
          matches &= in[c] == ((spec.trns[2 * size_t(c)] << 8) | spec.trns[2 * size_t(c) + 1]);
        rgba[3] = matches ? 0 : 255;
      }
    }
    rgba.resize(out_channels);  // gray keeps only its first entry
    image.pixels.insert(image.pixels.end(), rgba.begin(), rgba.end());
  }
  return image;
}

struct PngCase {
  std::string name;
  PngSpec spec;
};

PngSpec Plain(testing::PngColorType color_type, uint8_t bit_depth) {
  PngSpec spec = testing::MakePngSpec(kWidth, kHeight, bit_depth, color_type);
  spec.samples = RampSamples(kWidth * kHeight * testing::ChannelsOf(color_type), bit_depth);
  return spec;
}

PngSpec Palette(bool with_trns, uint8_t bit_depth = 8) {
  PngSpec spec = Plain(testing::kPalette, bit_depth);
  constexpr int kEntries = 6;
  for (uint16_t& index : spec.samples) index %= kEntries;
  for (int i = 0; i < kEntries; ++i) {
    spec.palette.insert(spec.palette.end(), {uint8_t(40 * i), uint8_t(200 - 30 * i), 77});
  }
  if (with_trns) spec.trns = {0, 128, 255};  // entries past the tRNS list stay opaque
  return spec;
}

PngSpec KeyedGray() {
  PngSpec spec = Plain(testing::kGray, 8);
  spec.samples[4] = spec.samples[9] = 42;
  spec.trns = {0, 42};
  return spec;
}

PngSpec KeyedRgb16() {
  PngSpec spec = Plain(testing::kRgb, 16);
  spec.samples[3] = 1000, spec.samples[4] = 2000, spec.samples[5] = 3000;
  spec.trns = {0x03, 0xE8, 0x07, 0xD0, 0x0B, 0xB8};  // 1000, 2000, 3000
  return spec;
}

// Adam7 on 11x9, not a multiple of the 8x8 pattern, so the seven passes have uneven sizes.
PngSpec Interlaced(testing::PngColorType color_type, uint8_t bit_depth) {
  constexpr uint32_t kInterlacedWidth = 11;
  constexpr uint32_t kInterlacedHeight = 9;
  PngSpec spec = testing::MakePngSpec(kInterlacedWidth, kInterlacedHeight, bit_depth, color_type);
  spec.samples = RampSamples(kInterlacedWidth * kInterlacedHeight * testing::ChannelsOf(color_type), bit_depth);
  spec.interlaced = true;
  return spec;
}

std::vector<PngCase> AllCases() {
  return {
      {"Gray1", Plain(testing::kGray, 1)},
      {"Gray4", Plain(testing::kGray, 4)},
      {"Gray8", Plain(testing::kGray, 8)},
      {"Gray16", Plain(testing::kGray, 16)},
      {"GrayAlpha8", Plain(testing::kGrayAlpha, 8)},
      {"GrayAlpha16", Plain(testing::kGrayAlpha, 16)},
      {"Rgb8", Plain(testing::kRgb, 8)},
      {"Rgb16", Plain(testing::kRgb, 16)},
      {"Rgba8", Plain(testing::kRgba, 8)},
      {"Rgba16", Plain(testing::kRgba, 16)},
      {"Palette", Palette(false)},
      {"PaletteWithTrns", Palette(true)},
      {"Palette4BitWithTrns", Palette(true, 4)},
      {"GrayWithTrnsKey", KeyedGray()},
      {"Rgb16WithTrnsKey", KeyedRgb16()},
      {"InterlacedRgb8", Interlaced(testing::kRgb, 8)},
      {"InterlacedGray2", Interlaced(testing::kGray, 2)},
      {"InterlacedRgba16", Interlaced(testing::kRgba, 16)},
  };
}

class PngVariantTest : public ::testing::TestWithParam<PngCase> {};

TEST_P(PngVariantTest, DecodesToExpectedPixels) {
  const PngSpec& spec = GetParam().spec;
  const std::vector<uint8_t> png = testing::WritePng(spec);
  ASSERT_EQ(DetectFormat(png), ImageFormat::kPng);
  const StatusOr<Image> decoded = Decode(png);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const Image expected = ExpectedImage(spec);
  EXPECT_EQ(decoded->width, expected.width);
  EXPECT_EQ(decoded->height, expected.height);
  EXPECT_EQ(decoded->channels, expected.channels);
  EXPECT_EQ(decoded->pixels, expected.pixels);
}

INSTANTIATE_TEST_SUITE_P(AllColorTypes, PngVariantTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<PngCase>& info) { return info.param.name; });

TEST(Png16BitTest, RoundsToNearestInsteadOfTruncating) {
  // 200 / 257 = 0.78 and 25829 / 257 = 100.5: keeping the high byte would give 0 and 100.
  PngSpec spec = testing::MakePngSpec(3, 1, 16, testing::kGray);
  spec.samples = {200, 25829, kMax16};
  const StatusOr<Image> decoded = Decode(testing::WritePng(spec));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->pixels, (std::vector<uint8_t>{1, 101, 255}));
}

class EncodeRoundTripTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(EncodeRoundTripTest, DecodeOfEncodeIsIdentity) {
  const int64_t channels = GetParam();
  Image image{.width = 17, .height = 9, .channels = channels, .pixels = {}};
  image.pixels.resize(static_cast<size_t>(image.width * image.height * channels));
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>((i * 37 + i / 5) % 256);
  const StatusOr<std::string> png = EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  const std::vector<uint8_t> bytes(png->begin(), png->end());
  const StatusOr<Image> decoded = Decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->width, image.width);
  EXPECT_EQ(decoded->height, image.height);
  EXPECT_EQ(decoded->channels, channels);
  EXPECT_EQ(decoded->pixels, image.pixels);
}

INSTANTIATE_TEST_SUITE_P(GrayRgbRgba, EncodeRoundTripTest, ::testing::Values(1, 3, 4));

TEST(EncodePngTest, RejectsBufferThatDoesNotMatchTheSize) {
  Image image{.width = 4, .height = 4, .channels = 3, .pixels = std::vector<uint8_t>(10)};
  const StatusOr<std::string> png = EncodePng(image);
  ASSERT_FALSE(png.ok());
  EXPECT_EQ(png.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(png.status().message().find("48"), std::string::npos) << png.status().message();
}

}  // namespace
}  // namespace fovea::imageio
