// The tile plan: every cell of the whole map is owned by exactly one tile, each tile starts on the cell grid, stays
// inside the image, holds its owned cells in its own map, and carries the context those cells need (or reaches the
// image's edge).

#include "slide/tile_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace fovea::slide {
namespace {

// The bundled model's grid: 28x28 windows every 4 pixels, 14 pixels of context each side.
constexpr DenseGrid kBundled{28, 28, 4, 14, 14, 14, 14};
// An asymmetric one, as a trunk with uneven padding gives.
constexpr DenseGrid kUneven{32, 24, 8, 5, 3, 11, 0};

int64_t TileMapCells(int64_t pixels, int64_t window, int64_t stride) { return (pixels - window) / stride + 1; }

void ExpectCoversEveryCellOnceExactly(int64_t width, int64_t height, const DenseGrid& grid, int64_t tile_cells) {
  const auto plan = PlanTiles(width, height, grid, tile_cells);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->map_cols, (width - grid.window_width) / grid.stride + 1);
  EXPECT_EQ(plan->map_rows, (height - grid.window_height) / grid.stride + 1);
  EXPECT_EQ(static_cast<int64_t>(plan->tiles.size()), plan->tiles_across * plan->tiles_down);
  std::vector<int> owners(static_cast<size_t>(plan->map_cols * plan->map_rows), 0);
  for (const Tile& tile : plan->tiles) {
    const PixelRect& p = tile.pixels;
    EXPECT_EQ(p.x % grid.stride, 0) << "tile " << tile.index;
    EXPECT_EQ(p.y % grid.stride, 0) << "tile " << tile.index;
    EXPECT_TRUE(p.x >= 0 && p.y >= 0 && p.x + p.width <= width && p.y + p.height <= height) << "tile " << tile.index;
    // The owned cells lie in the tile's own map, at first_col/first_row.
    EXPECT_EQ(tile.first_col, tile.cells.x - p.x / grid.stride);
    EXPECT_EQ(tile.first_row, tile.cells.y - p.y / grid.stride);
    EXPECT_LE(tile.first_col + tile.cells.width, TileMapCells(p.width, grid.window_width, grid.stride));
    EXPECT_LE(tile.first_row + tile.cells.height, TileMapCells(p.height, grid.window_height, grid.stride));
    // Context: each owned cell's window plus context is inside the tile, or the tile reaches the image's edge.
    const int64_t left = tile.cells.x * grid.stride - grid.context_left;
    const int64_t right = (tile.cells.x + tile.cells.width - 1) * grid.stride + grid.window_width + grid.context_right;
    const int64_t top = tile.cells.y * grid.stride - grid.context_top;
    const int64_t bottom =
        (tile.cells.y + tile.cells.height - 1) * grid.stride + grid.window_height + grid.context_bottom;
    EXPECT_TRUE(p.x <= left || p.x == 0) << "tile " << tile.index;
    EXPECT_TRUE(p.x + p.width >= right || p.x + p.width == width) << "tile " << tile.index;
    EXPECT_TRUE(p.y <= top || p.y == 0) << "tile " << tile.index;
    EXPECT_TRUE(p.y + p.height >= bottom || p.y + p.height == height) << "tile " << tile.index;
    for (int64_t r = 0; r < tile.cells.height; ++r) {
      for (int64_t c = 0; c < tile.cells.width; ++c) {
        ++owners[static_cast<size_t>((tile.cells.y + r) * plan->map_cols + tile.cells.x + c)];
      }
    }
  }
  for (size_t i = 0; i < owners.size(); ++i) ASSERT_EQ(owners[i], 1) << "cell " << i;
}

TEST(TilePlan, CoversEveryCellOnceWithItsContext) {
  ExpectCoversEveryCellOnceExactly(1100, 900, kBundled, 64);
  ExpectCoversEveryCellOnceExactly(1100, 900, kBundled, 1);
  ExpectCoversEveryCellOnceExactly(28, 28, kBundled, 16);  // one window: one cell
  ExpectCoversEveryCellOnceExactly(1001, 333, kUneven, 7);
  ExpectCoversEveryCellOnceExactly(40000, 40000, kBundled, 250);
}

TEST(TilePlan, TileSidesFollowTheRequestedPixels) {
  const int64_t cells = CellsForTilePixels(kBundled, 1024);
  EXPECT_EQ(cells, 250);  // 249 steps of 4 and one 28-pixel window span 1024 pixels
  const auto plan = PlanTiles(4096, 4096, kBundled, cells);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->tiles_across, 5);               // 1018 cells
  const Tile& inner = plan->tiles[6];             // second row, second column: context on every side
  EXPECT_EQ(inner.pixels.width, 1024 + 16 + 14);  // context 14 left rounded out to the grid (16), 14 right
  EXPECT_EQ(CellsForTilePixels(kBundled, 10), 1);
}

TEST(TilePlan, TilesFitTheServersDenseLimit) {
  DenseGrid grid = kBundled;
  grid.max_request_pixels = int64_t{1} << 20;
  // (n − 1)·4 + 28 + 28 + 3 pixels a side fit in 1024 up to n = 242.
  EXPECT_EQ(RequestSide(grid, 242, false), 1023);
  EXPECT_EQ(RequestSide(grid, 243, true), 1027);
  auto chosen = ChooseTileCells(grid, 0);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, 242);
  chosen = ChooseTileCells(grid, 500);
  ASSERT_TRUE(chosen.ok());
  EXPECT_EQ(*chosen, CellsForTilePixels(grid, 500));
  chosen = ChooseTileCells(grid, 2000);
  ASSERT_FALSE(chosen.ok());
  EXPECT_NE(chosen.status().message().find("use --tile 992 or less"), std::string::npos) << chosen.status().message();
  grid.max_request_pixels = 50 * 50;
  chosen = ChooseTileCells(grid, 0);
  ASSERT_FALSE(chosen.ok());
  EXPECT_NE(chosen.status().message().find("--max-dense-pixels"), std::string::npos);
  grid.max_request_pixels = 0;  // no limit: the default's cap
  EXPECT_EQ(*ChooseTileCells(grid, 0), CellsForTilePixels(grid, kLargestDefaultTilePixels));
}

TEST(TilePlan, RefusesAnImageSmallerThanTheWindow) {
  const auto plan = PlanTiles(27, 500, kBundled, 10);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("smaller than the model's 28x28 window"), std::string::npos);
  EXPECT_FALSE(PlanTiles(500, 500, kBundled, 0).ok());
}

}  // namespace
}  // namespace fovea::slide
