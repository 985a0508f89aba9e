// Reading a coarse map at image pixels: each cell's value sits over the pixels its geometry names.

#include <gtest/gtest.h>

#include "engine/localization/resample.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

TEST(Resample, CellCentresCarryTheirValuesAndPixelsBetweenBlend) {
  localization::MapGeometry g;  // 10-pixel cells centred at 5, 15
  g.stride_x = g.stride_y = 10;
  g.offset_x = g.offset_y = 5;
  const Tensor map = Floats({2, 2}, {0.0f, 1.0f, 2.0f, 3.0f});
  const Tensor image = localization::ResampleToImage(map, g, 20, 20);
  ASSERT_EQ((Shape{20, 20}), image.shape());
  const auto at = [&](int64_t x, int64_t y) { return image.data<float>()[y * 20 + x]; };
  EXPECT_FLOAT_EQ(0.0f, at(2, 2));    // before the first centre: clamped to cell (0, 0)
  EXPECT_FLOAT_EQ(1.0f, at(17, 3));   // past the last column centre: cell (0, 1)
  EXPECT_FLOAT_EQ(3.0f, at(19, 19));  // bottom-right corner: cell (1, 1)
  EXPECT_FLOAT_EQ(0.55f, at(10, 0));  // pixel centre 10.5 is 0.55 of the way from column 0 to 1
  EXPECT_FLOAT_EQ(1.1f, at(0, 10));   // and 0.55 of the way from row 0 (0) to row 1 (2)
}

}  // namespace
}  // namespace fovea::engine::testing
