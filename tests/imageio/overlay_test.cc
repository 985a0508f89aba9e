// Colormaps, heatmap rendering, overlays and boxes.

#include "imageio/overlay.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace fovea::imageio {
namespace {

const Rgb& PixelAt(const Image& image, int64_t x, int64_t y) {
  return *reinterpret_cast<const Rgb*>(image.row(y) + x * image.channels);
}

TEST(ColormapTest, EndpointsMatchTheirDefinitions) {
  EXPECT_EQ(ColormapTable(Colormap::kJet)[0], (Rgb{0, 0, 128}));    // dark blue
  EXPECT_EQ(ColormapTable(Colormap::kJet)[255], (Rgb{128, 0, 0}));  // dark red
  EXPECT_EQ(ColormapTable(Colormap::kJet)[128][1], 255);            // full green in the middle
  EXPECT_EQ(ColormapTable(Colormap::kViridis)[0], (Rgb{0x44, 0x01, 0x54}));
  EXPECT_EQ(ColormapTable(Colormap::kViridis)[255], (Rgb{0xfd, 0xe7, 0x25}));
  EXPECT_EQ(ColormapTable(Colormap::kInferno)[0], (Rgb{0x00, 0x00, 0x04}));
  EXPECT_EQ(ColormapTable(Colormap::kInferno)[255], (Rgb{0xfc, 0xff, 0xa4}));
}

TEST(ColormapTest, PerceptualMapsGetBrighterMonotonically) {
  for (Colormap colormap : {Colormap::kViridis, Colormap::kInferno}) {
    const auto& table = ColormapTable(colormap);
    for (int i = 1; i < kColormapSize; ++i) {
      EXPECT_GE(LumaBt601(table[i][0], table[i][1], table[i][2]),
                LumaBt601(table[i - 1][0], table[i - 1][1], table[i - 1][2]))
          << "entry " << i;
    }
  }
}

TEST(ColormapTest, ParsesNamesAndRejectsOthers) {
  ASSERT_TRUE(ParseColormap("inferno").ok());
  EXPECT_EQ(*ParseColormap("inferno"), Colormap::kInferno);
  const StatusOr<Colormap> unknown = ParseColormap("rainbow");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("rainbow"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("viridis"), std::string::npos);
}

TEST(RenderHeatmapTest, MapsRangeClampsAndHandlesNan) {
  const std::vector<float> values = {0.0f, 0.5f, 1.0f, 2.0f, -1.0f, std::nanf("")};
  const Image heat = RenderHeatmap(values, 3, 2, 0.0f, 1.0f, Colormap::kViridis);
  ASSERT_EQ(heat.width, 3);
  ASSERT_EQ(heat.height, 2);
  ASSERT_EQ(heat.channels, 3);
  const auto& table = ColormapTable(Colormap::kViridis);
  EXPECT_EQ(PixelAt(heat, 0, 0), table[0]);
  EXPECT_EQ(PixelAt(heat, 1, 0), table[128]);
  EXPECT_EQ(PixelAt(heat, 2, 0), table[255]);
  EXPECT_EQ(PixelAt(heat, 0, 1), table[255]);
  EXPECT_EQ(PixelAt(heat, 1, 1), table[0]);
  EXPECT_EQ(PixelAt(heat, 2, 1), table[0]);
}

TEST(RenderHeatmapTest, EmptyRangeAndWrongSize) {
  const Image flat = RenderHeatmap(std::vector<float>{3.0f, 9.0f}, 2, 1, 5.0f, 5.0f, Colormap::kJet);
  EXPECT_EQ(PixelAt(flat, 1, 0), ColormapTable(Colormap::kJet)[0]);
  EXPECT_TRUE(RenderHeatmap(std::vector<float>(5), 2, 3, 0.0f, 1.0f, Colormap::kJet).pixels.empty());
}

TEST(OverlayTest, ResizesHeatToBaseAndBlends) {
  const Image base{.width = 40, .height = 30, .channels = 1, .pixels = std::vector<uint8_t>(size_t{40} * 30, 100)};
  Image heat{.width = 4, .height = 3, .channels = 3, .pixels = {}};
  for (int i = 0; i < 12; ++i) heat.pixels.insert(heat.pixels.end(), {200, 0, 50});
  const Image blended = Overlay(base, heat, 0.25f);
  EXPECT_EQ(blended.width, 40);
  EXPECT_EQ(blended.height, 30);
  EXPECT_EQ(blended.channels, 3);
  EXPECT_EQ(PixelAt(blended, 39, 29), (Rgb{125, 75, 88}));  // 0.75 * 100 + 0.25 * (200, 0, 50), rounded
  EXPECT_EQ(Overlay(base, heat, 0.0f).pixels, ConvertChannels(base, 3).pixels);
  EXPECT_EQ(PixelAt(Overlay(base, heat, 1.0f), 17, 11), (Rgb{200, 0, 50}));
}

TEST(DrawBoxTest, DrawsInclusiveOutlineOfGivenThickness) {
  Image image{.width = 10, .height = 10, .channels = 3, .pixels = std::vector<uint8_t>(300, 0)};
  const Rgb red = {255, 0, 0};
  const Rgb black = {0, 0, 0};
  DrawBox(image, 6, 7, 2, 3, red, 2);  // corners in either order
  EXPECT_EQ(PixelAt(image, 2, 3), red);
  EXPECT_EQ(PixelAt(image, 6, 7), red);
  EXPECT_EQ(PixelAt(image, 3, 4), red);    // second ring of a 2-pixel outline
  EXPECT_EQ(PixelAt(image, 4, 5), black);  // interior
  EXPECT_EQ(PixelAt(image, 1, 3), black);  // outside
  EXPECT_EQ(PixelAt(image, 7, 7), black);
}

TEST(DrawBoxTest, ClipsToImageAndSetsAlphaAndGray) {
  Image rgba{.width = 4, .height = 4, .channels = 4, .pixels = std::vector<uint8_t>(64, 0)};
  DrawBox(rgba, -5, -5, 100, 100, {0, 255, 0}, 1);  // edges fall outside: nothing to draw, nothing to crash
  EXPECT_EQ(rgba.pixels, std::vector<uint8_t>(64, 0));
  DrawBox(rgba, -5, 0, 100, 100, {0, 255, 0}, 1);  // top edge at y = 0 is visible
  EXPECT_EQ(rgba.pixels[0 * 4 + 1], 255);
  EXPECT_EQ(rgba.pixels[0 * 4 + 3], 255);
  EXPECT_EQ(rgba.pixels[(3 * 4 + 3) * 4 + 1], 0);
  Image gray{.width = 3, .height = 3, .channels = 1, .pixels = std::vector<uint8_t>(9, 0)};
  DrawBox(gray, 0, 0, 2, 2, {255, 0, 0}, 1);
  EXPECT_EQ(gray.pixels[0], LumaBt601(255, 0, 0));
  EXPECT_EQ(gray.pixels[4], 0);
}

}  // namespace
}  // namespace fovea::imageio
