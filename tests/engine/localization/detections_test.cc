// Peaks, boxes and non-maximum suppression on hand-made maps.

#include <gtest/gtest.h>

#include "engine/localization/detections.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using localization::Box;
using localization::BoxShape;
using localization::Detection;
using localization::FindPeaks;
using localization::MapGeometry;

MapGeometry DenseGeometry() {
  MapGeometry g;
  g.stride_x = g.stride_y = 4;
  g.offset_x = g.offset_y = 14;
  g.window_width = g.window_height = 28;
  return g;
}

TEST(Peaks, LocalMaximaAboveThresholdBecomeWindows) {
  // Two peaks (0.9 and 0.7), a shoulder next to the first, and a 0.4 peak under the threshold.
  const Tensor map = Floats({3, 5}, {0.1f, 0.9f, 0.8f, 0.1f, 0.4f,  //
                                     0.1f, 0.2f, 0.1f, 0.1f, 0.1f,  //
                                     0.1f, 0.1f, 0.1f, 0.7f, 0.1f});
  const auto peaks = FindPeaks(map, 3, 0.5f, DenseGeometry(), BoxShape::kWindow, 100, 100);
  ASSERT_EQ(2u, peaks.size());
  EXPECT_EQ(3, peaks[0].class_index);
  EXPECT_FLOAT_EQ(0.9f, peaks[0].score);
  // Cell (0, 1): window from x = 4 to 32, y = 0 to 28.
  EXPECT_FLOAT_EQ(4.0f, peaks[0].box.x_min);
  EXPECT_FLOAT_EQ(32.0f, peaks[0].box.x_max);
  EXPECT_FLOAT_EQ(0.0f, peaks[0].box.y_min);
  EXPECT_FLOAT_EQ(28.0f, peaks[0].box.y_max);
  // Cell (2, 3): x 12..40, y 8..36.
  EXPECT_FLOAT_EQ(12.0f, peaks[1].box.x_min);
  EXPECT_FLOAT_EQ(8.0f, peaks[1].box.y_min);
}

TEST(Peaks, PlateauCountsOnceAndBoxesClipToTheImage) {
  const Tensor map = Floats({1, 3}, {0.6f, 0.6f, 0.6f});
  const auto peaks = FindPeaks(map, 0, 0.5f, DenseGeometry(), BoxShape::kWindow, 30, 20);
  ASSERT_EQ(1u, peaks.size());
  EXPECT_FLOAT_EQ(28.0f, peaks[0].box.x_max);
  EXPECT_FLOAT_EQ(20.0f, peaks[0].box.y_max);
}

TEST(Peaks, RegionBoxCoversConnectedCellsAboveThreshold) {
  MapGeometry g;  // 10-pixel cells
  g.stride_x = g.stride_y = 10;
  g.offset_x = g.offset_y = 5;
  const Tensor map = Floats({3, 4}, {0.0f, 0.6f, 0.0f, 0.0f,  //
                                     0.0f, 1.0f, 0.7f, 0.0f,  //
                                     0.0f, 0.0f, 0.0f, 0.9f});
  const auto peaks = FindPeaks(map, 1, 0.5f, g, BoxShape::kRegion, 40, 30);
  ASSERT_EQ(2u, peaks.size());
  // The 1.0 peak joins 0.6 above it, 0.7 to its right and, diagonally, 0.9: x 10..40, y 0..30.
  EXPECT_FLOAT_EQ(10.0f, peaks[0].box.x_min);
  EXPECT_FLOAT_EQ(40.0f, peaks[0].box.x_max);
  EXPECT_FLOAT_EQ(0.0f, peaks[0].box.y_min);
  EXPECT_FLOAT_EQ(30.0f, peaks[0].box.y_max);
}

TEST(Nms, SuppressesOverlapsWithinAClassOnly) {
  const std::vector<Detection> detections = {
      {1, 0.6f, {0, 0, 10, 10}},  // overlaps the 0.9 box of class 1 (IoU 0.82): dropped
      {1, 0.9f, {1, 0, 11, 10}},
      {2, 0.5f, {0, 0, 10, 10}},   // other class: kept
      {1, 0.4f, {20, 20, 30, 30}}  // no overlap: kept
  };
  const auto kept = localization::NonMaximumSuppression(detections, 0.3f);
  ASSERT_EQ(3u, kept.size());
  EXPECT_FLOAT_EQ(0.9f, kept[0].score);
  EXPECT_EQ(2, kept[1].class_index);
  EXPECT_FLOAT_EQ(0.4f, kept[2].score);
  EXPECT_NEAR(90.0f / 110.0f, localization::IntersectionOverUnion({0, 0, 10, 10}, {1, 0, 11, 10}), 1e-6f);
}

}  // namespace
}  // namespace fovea::engine::testing
