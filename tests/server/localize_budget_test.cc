// The Localize budget: PNG size bounds against real encodings, and which answers and dense passes are refused, with
// the limit and the ways out named.

#include "server/api/localize_budget.h"

#include <gtest/gtest.h>

#include <random>

#include "imageio/image.h"

namespace fovea::server {
namespace {

struct PngCase {
  int64_t width;
  int64_t height;
  int64_t channels;
};

class PngBytesBoundTest : public ::testing::TestWithParam<PngCase> {};

// Noise does not compress, so its PNG is the largest one of that size; the bound must hold and stay close.
TEST_P(PngBytesBoundTest, HoldsForIncompressibleImagesAndStaysClose) {
  constexpr double kMaxOverhead = 1.01;
  constexpr int64_t kMaxFixedOverhead = 200;
  const PngCase& c = GetParam();
  std::mt19937 random(7);
  imageio::Image image{c.width, c.height, c.channels,
                       std::vector<uint8_t>(static_cast<size_t>(c.width * c.height * c.channels))};
  for (uint8_t& pixel : image.pixels) pixel = static_cast<uint8_t>(random());
  const StatusOr<std::string> png = imageio::EncodePng(image);
  ASSERT_TRUE(png.ok()) << png.status().message();
  const int64_t bound = PngBytesBound(c.width, c.height, c.channels);
  EXPECT_GE(bound, static_cast<int64_t>(png->size()));
  EXPECT_LE(bound, static_cast<int64_t>(kMaxOverhead * static_cast<double>(image.pixels.size())) + kMaxFixedOverhead);
}

INSTANTIATE_TEST_SUITE_P(Sizes, PngBytesBoundTest,
                         ::testing::Values(PngCase{1, 1, 1}, PngCase{7, 7, 1}, PngCase{106, 106, 1},
                                           PngCase{448, 448, 3}, PngCase{1000, 613, 3}));

// The case: dense maps of every class of a 1,000-class model over a 448x448 image, with overlays.
LocalizeWork EveryClassOverlays() {
  LocalizeWork work;
  work.dense = true;
  work.maps = 1000;
  work.map_rows = work.map_cols = 8;
  work.overlays = true;
  work.image_width = work.image_height = 448;
  work.label_bytes = 20;
  work.dense_passes = 1;
  work.dense_classes = 1000;
  work.dense_pass_cells = 64;
  return work;
}

TEST(LocalizeBudgetTest, EveryClassWithOverlaysIsRefusedNamingTheLimitAndTheWaysOut) {
  const LocalizeWork work = EveryClassOverlays();
  EXPECT_GT(AnswerBytesBound(work).overlays, 1000 * 448 * 448 * 3);
  const Status status = CheckLocalizeBudget(work, {});
  ASSERT_EQ(StatusCode::kResourceExhausted, status.code());
  for (const char* mention : {"67,108,864 bytes (--max-message-bytes)", "1000 overlay(s) of 448x448", "fewer classes",
                              "no overlays", "a larger stride", "8-bit maps"}) {
    EXPECT_NE(std::string::npos, status.message().find(mention)) << mention << " in " << status.message();
  }
}

TEST(LocalizeBudgetTest, TheDefaultTopFiveFits) {
  LocalizeWork work = EveryClassOverlays();
  work.maps = 5;
  EXPECT_TRUE(CheckLocalizeBudget(work, {}).ok());
  EXPECT_LT(AnswerBytesBound(work).total(), int64_t{4} << 20);
}

TEST(LocalizeBudgetTest, PngMapsAreSmallerThanFloatsForLargeMaps) {
  LocalizeWork work = EveryClassOverlays();
  work.overlays = false;
  work.map_rows = work.map_cols = 200;
  const int64_t floats = AnswerBytesBound(work).maps;
  work.png_maps = true;
  const int64_t pngs = AnswerBytesBound(work).maps;
  EXPECT_LT(pngs * 3, floats);
  // 1,000 float maps of 200x200 cells (160 MB) do not fit, their 8-bit PNGs (40 MB) do.
  work.png_maps = false;
  EXPECT_EQ(StatusCode::kResourceExhausted, CheckLocalizeBudget(work, {}).code());
  work.png_maps = true;
  EXPECT_TRUE(CheckLocalizeBudget(work, {}).ok());
}

TEST(LocalizeBudgetTest, DetectionsAreBoundedByPeaksAndByTheThresholdForDenseMaps) {
  LocalizeWork work = EveryClassOverlays();
  work.overlays = false;
  work.map_rows = work.map_cols = 9;                           // at most 5 x 5 = 25 peaks per map
  const int64_t two_maps = AnswerBytesBound(work).detections;  // threshold 0.5: two classes per window at most
  work.score_threshold = 0.25f;
  EXPECT_EQ(2 * two_maps, AnswerBytesBound(work).detections);
  work.dense = false;  // CAM maps are scaled per class: every map can peak anywhere
  EXPECT_EQ(500 * two_maps, AnswerBytesBound(work).detections);
}

TEST(LocalizeBudgetTest, DenseWorkAndMemoryHaveLimitsOfTheirOwn) {
  LocalizeWork work = EveryClassOverlays();
  work.maps = 5;
  work.dense_passes = 1024;  // stride 1 on a natural stride of 32
  Status status = CheckLocalizeBudget(work, {});
  ASSERT_EQ(StatusCode::kResourceExhausted, status.code());
  EXPECT_NE(std::string::npos, status.message().find("1024 shifted passes")) << status.message();
  EXPECT_NE(std::string::npos, status.message().find("use a larger stride")) << status.message();

  work.dense_passes = 1;
  work.map_rows = work.map_cols = 973;
  work.overlays = false;
  status = CheckLocalizeBudget(work, {});
  ASSERT_EQ(StatusCode::kResourceExhausted, status.code());
  EXPECT_NE(std::string::npos, status.message().find("dense-map memory limit")) << status.message();
}

}  // namespace
}  // namespace fovea::server
