// The parts of `fovea slide` around the tile plan: Otsu's threshold and the tissue mask, merging detections across
// tiles, and the run store's journal (resume after a torn line) and map files.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "slide/detection_merge.h"
#include "slide/slide_store.h"
#include "slide/tissue_mask.h"

namespace fovea::slide {
namespace {

namespace fs = std::filesystem;

TEST(Otsu, SplitsTwoPopulationsBetweenThem) {
  std::vector<int64_t> histogram(256, 0);
  histogram[30] = 700;  // tissue
  histogram[40] = 300;
  histogram[230] = 900;  // glass
  const OtsuSplit split = Otsu(histogram);
  EXPECT_GE(split.threshold, 40);
  EXPECT_LT(split.threshold, 230);
  EXPECT_NEAR(split.mean_distance, 230 - 33, 1e-9);
}

Pixels HalfDarkThumbnail(int64_t width, int64_t height) {
  Pixels p{width, height, 3, std::vector<uint8_t>(static_cast<size_t>(width * height * 3), 235)};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width / 2; ++x) {
      for (int b = 0; b < 3; ++b) p.data[static_cast<size_t>((y * width + x) * 3 + b)] = 20;
    }
  }
  return p;
}

TEST(TissueMask, FindsTheDarkHalfOfTheSlide) {
  // A 100x50 thumbnail of a 10,000 x 5,000 slide: tissue on the left half.
  const TissueMask mask(HalfDarkThumbnail(100, 50), 10000, 5000);
  EXPECT_NEAR(mask.tissue_fraction(), 0.5, 1e-9);
  EXPECT_TRUE(mask.AnyTissue({0, 0, 1000, 1000}));
  EXPECT_FALSE(mask.AnyTissue({6000, 1000, 3000, 3000}));
  EXPECT_TRUE(mask.AnyTissue({4950, 0, 200, 100}));  // straddles the edge
}

TEST(TissueMask, CountsEverythingAsTissueWithoutContrast) {
  Pixels flat{10, 10, 3, std::vector<uint8_t>(300, 120)};
  flat.data[0] = 125;  // a faint speck is not glass
  const TissueMask mask(flat, 1000, 1000);
  EXPECT_EQ(mask.threshold(), 255);
  EXPECT_TRUE(mask.AnyTissue({900, 900, 10, 10}));
}

SlideDetection Box(int64_t c, float score, double x, double y, double side = 28) {
  std::string label = std::to_string(c);
  label.insert(0, 1, 'c');  // not "c" + ...: GCC 12 warns falsely (-Wrestrict) on that concatenation
  return {c, label, score, x, y, x + side, y + side};
}

TEST(MergeDetections, KeepsTheBestOfOverlappingSameClassBoxes) {
  const auto kept = MergeDetections({Box(1, 0.6f, 100, 100), Box(1, 0.9f, 104, 100), Box(2, 0.7f, 104, 100),
                                     Box(1, 0.8f, 300, 300), Box(1, 0.55f, 128, 100)},
                                    0.3f);
  ASSERT_EQ(kept.size(), 4u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);  // the 0.6 box at x=100 overlaps it by 0.75 and goes
  EXPECT_FLOAT_EQ(kept[1].score, 0.8f);
  EXPECT_FLOAT_EQ(kept[2].score, 0.7f);   // another class stays
  EXPECT_FLOAT_EQ(kept[3].score, 0.55f);  // x=128 overlaps x=104 by 4/52 < 0.3
}

TEST(TileRecordLine, RoundTripsAndRejectsATornLine) {
  const TileRecord record{7, false, {Box(3, 0.75f, 10.5, 20, 28)}};
  const std::string line = TileRecordLine(record);
  const auto back = ParseTileRecordLine(line);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->tile, 7);
  ASSERT_EQ(back->detections.size(), 1u);
  EXPECT_EQ(back->detections[0].label, "c3");
  EXPECT_DOUBLE_EQ(back->detections[0].x_min, 10.5);
  EXPECT_FALSE(ParseTileRecordLine(line.substr(0, line.size() / 2)).has_value());
}

class SlideStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fovea-slide-store-" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SlideStoreTest, ResumesFinishedTilesAndRedoesATornOne) {
  const Tile tile{0, {0, 0, 40, 40}, {1, 2, 3, 2}, 1, 0};
  {
    auto store = SlideStore::Open(dir_.string(), "s", R"({"a": 1})", 2, 10, 8, false);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::vector<float> tile_map(6 * 5);
    for (size_t i = 0; i < tile_map.size(); ++i) tile_map[i] = static_cast<float>(i);
    ASSERT_TRUE((*store)->WriteCells(tile, 1, tile_map.data(), 6).ok());
    ASSERT_TRUE((*store)->Finish({0, false, {}}).ok());
    ASSERT_TRUE((*store)->Finish({1, true, {}}).ok());
  }
  std::ofstream(dir_ / "s.tiles.jsonl", std::ios::app) << R"({"tile": 2, "skipp)";  // torn by a crash
  auto store = SlideStore::Open(dir_.string(), "s", R"({ "a" : 1 })", 2, 10, 8, false);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->finished().size(), 2u);
  EXPECT_TRUE((*store)->finished().at(1).skipped);
  // Cells (row 2..3, col 1..3) of the 10x8 map hold the tile map's (row 0..1, col 1..3).
  std::ifstream map((*store)->MapPath(1), std::ios::binary);
  std::vector<float> cells(80);
  map.read(reinterpret_cast<char*>(cells.data()), 80 * 4);
  EXPECT_FLOAT_EQ(cells[2 * 8 + 1], 1.0f);
  EXPECT_FLOAT_EQ(cells[3 * 8 + 3], 6.0f + 3.0f);
  EXPECT_FLOAT_EQ(cells[0], 0.0f);
  ASSERT_TRUE((*store)->Finish({2, false, {}}).ok());  // appends on a line of its own
}

TEST_F(SlideStoreTest, RefusesAnEarlierRunWithOtherSettingsUnlessRestarted) {
  ASSERT_TRUE(SlideStore::Open(dir_.string(), "s", R"({"tile": 1})", 1, 4, 4, false).ok());
  const auto other = SlideStore::Open(dir_.string(), "s", R"({"tile": 2})", 1, 4, 4, false);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("--restart"), std::string::npos);
  const auto restarted = SlideStore::Open(dir_.string(), "s", R"({"tile": 2})", 1, 4, 4, true);
  ASSERT_TRUE(restarted.ok());
  EXPECT_TRUE((*restarted)->finished().empty());
}

}  // namespace
}  // namespace fovea::slide
