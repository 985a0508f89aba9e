#pragma once
// How a huge image is cut into tiles whose dense maps stitch into exactly the map of one pass over the whole image.
//
// The model's dense map of a W x H image has ⌊(W − window)/s⌋ + 1 columns (s: the natural stride), cell (row, col)
// being the window whose top-left pixel is (col·s, row·s). Each tile owns a block of those cells. Its pixels are the
// block's windows plus the context each cell depends on (fovea.v1.DenseGeometry), widened to start at a multiple of
// s so the tile's cell grid falls on the image's, and clipped to the image: where a tile stops at the image's edge,
// its padding is the whole image's padding. So every cell a tile owns has, in that tile, exactly its value in the
// whole image's map.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace fovea::slide {

struct DenseGrid {
  int64_t window_width = 0, window_height = 0;
  int64_t stride = 1;  // the natural stride
  int64_t context_left = 0, context_top = 0, context_right = 0, context_bottom = 0;
  int64_t max_request_pixels = 0;  // the server's limit for one DENSE request; 0 = none
};

struct PixelRect {
  int64_t x = 0, y = 0, width = 0, height = 0;
  bool operator==(const PixelRect&) const = default;
};

struct Tile {
  int64_t index = 0;                     // row-major position in the plan
  PixelRect pixels;                      // what to read and send, in the image's pixels
  PixelRect cells;                       // the cells the tile owns, in the whole map's cells (x = column, y = row)
  int64_t first_col = 0, first_row = 0;  // where those cells start in the tile's own map
};

struct TilePlan {
  int64_t map_cols = 0, map_rows = 0;  // the whole image's map
  int64_t tiles_across = 0, tiles_down = 0;
  std::vector<Tile> tiles;
};

// Cuts a width x height image into tiles owning `tile_cells` x `tile_cells` cells each (fewer at the right and bottom
// edges). INVALID_ARGUMENT when the image is smaller than the window or the grid or tile size is not positive.
StatusOr<TilePlan> PlanTiles(int64_t width, int64_t height, const DenseGrid& grid, int64_t tile_cells);

// The number of cells a tile of about `tile_pixels` pixels a side owns: its windows span tile_pixels.
int64_t CellsForTilePixels(const DenseGrid& grid, int64_t tile_pixels);

// The widest and tallest a request for a tile owning `cells` x `cells` cells can be: the cells' windows, the context
// on both sides and up to stride − 1 pixels of rounding to the grid.
int64_t RequestSide(const DenseGrid& grid, int64_t cells, bool vertical);

// The tile size in cells: for `tile_pixels` > 0 the cells its windows span, for 0 the most whose requests fit
// grid.max_request_pixels (up to kLargestDefaultTilePixels). INVALID_ARGUMENT naming the limit and the largest tile
// that fits when the requested one does not, or when not even one cell's request fits.
StatusOr<int64_t> ChooseTileCells(const DenseGrid& grid, int64_t tile_pixels);
inline constexpr int64_t kLargestDefaultTilePixels = 4096;

}  // namespace fovea::slide
