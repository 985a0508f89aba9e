#include "slide/tile_plan.h"

#include <algorithm>

namespace fovea::slide {
namespace {

// One axis of a tile: the cells [first, end) it owns and the pixels [begin, stop) it reads.
struct Span {
  int64_t first_cell = 0, end_cell = 0;
  int64_t begin = 0, stop = 0;
};

Span AxisSpan(int64_t first_cell, int64_t end_cell, int64_t image_size, int64_t window, int64_t stride,
              int64_t context_before, int64_t context_after) {
  Span span{first_cell, end_cell, 0, 0};
  // Round down to a multiple of the stride, so the tile's cells fall on the image's grid.
  const int64_t wanted_begin = std::max<int64_t>(0, first_cell * stride - context_before);
  span.begin = wanted_begin / stride * stride;
  span.stop = std::min(image_size, (end_cell - 1) * stride + window + context_after);
  return span;
}

std::vector<Span> AxisSpans(int64_t map_cells, int64_t tile_cells, int64_t image_size, int64_t window, int64_t stride,
                            int64_t context_before, int64_t context_after) {
  std::vector<Span> spans;
  for (int64_t first = 0; first < map_cells; first += tile_cells) {
    spans.push_back(AxisSpan(first, std::min(map_cells, first + tile_cells), image_size, window, stride, context_before,
                             context_after));
  }
  return spans;
}

}  // namespace

StatusOr<TilePlan> PlanTiles(int64_t width, int64_t height, const DenseGrid& grid, int64_t tile_cells) {
  if (grid.stride <= 0 || grid.window_width <= 0 || grid.window_height <= 0 || tile_cells <= 0) {
    return InvalidArgument("the dense grid (window " + std::to_string(grid.window_width) + "x" +
                           std::to_string(grid.window_height) + ", stride " + std::to_string(grid.stride) +
                           ") and the tile size (" + std::to_string(tile_cells) + " cells) must be positive");
  }
  if (width < grid.window_width || height < grid.window_height) {
    return InvalidArgument("the image is " + std::to_string(width) + "x" + std::to_string(height) +
                           " pixels, smaller than the model's " + std::to_string(grid.window_width) + "x" +
                           std::to_string(grid.window_height) + " window");
  }
  TilePlan plan;
  plan.map_cols = (width - grid.window_width) / grid.stride + 1;
  plan.map_rows = (height - grid.window_height) / grid.stride + 1;
  const auto columns = AxisSpans(plan.map_cols, tile_cells, width, grid.window_width, grid.stride, grid.context_left,
                                 grid.context_right);
  const auto rows = AxisSpans(plan.map_rows, tile_cells, height, grid.window_height, grid.stride, grid.context_top,
                              grid.context_bottom);
  plan.tiles_across = static_cast<int64_t>(columns.size());
  plan.tiles_down = static_cast<int64_t>(rows.size());
  for (const Span& row : rows) {
    for (const Span& col : columns) {
      Tile tile;
      tile.index = static_cast<int64_t>(plan.tiles.size());
      tile.pixels = {col.begin, row.begin, col.stop - col.begin, row.stop - row.begin};
      tile.cells = {col.first_cell, row.first_cell, col.end_cell - col.first_cell, row.end_cell - row.first_cell};
      tile.first_col = col.first_cell - col.begin / grid.stride;
      tile.first_row = row.first_cell - row.begin / grid.stride;
      plan.tiles.push_back(tile);
    }
  }
  return plan;
}

int64_t RequestSide(const DenseGrid& grid, int64_t cells, bool vertical) {
  const int64_t window = vertical ? grid.window_height : grid.window_width;
  const int64_t context = vertical ? grid.context_top + grid.context_bottom : grid.context_left + grid.context_right;
  return (cells - 1) * grid.stride + window + context + grid.stride - 1;
}

StatusOr<int64_t> ChooseTileCells(const DenseGrid& grid, int64_t tile_pixels) {
  const auto fits = [&](int64_t cells) {
    return grid.max_request_pixels <= 0 ||
           RequestSide(grid, cells, false) * RequestSide(grid, cells, true) <= grid.max_request_pixels;
  };
  if (!fits(1)) {
    return InvalidArgument("one window with its context (" + std::to_string(RequestSide(grid, 1, false)) + "x" +
                           std::to_string(RequestSide(grid, 1, true)) +
                           " pixels) is over the server's dense limit of " + std::to_string(grid.max_request_pixels) +
                           " pixels; raise its --max-dense-pixels");
  }
  int64_t largest = 1;  // that fits, up to the default's cap: the limit is in the millions, so a linear search is short
  const int64_t cap = CellsForTilePixels(grid, tile_pixels > 0 ? tile_pixels : kLargestDefaultTilePixels);
  while (largest < cap && fits(largest + 1)) ++largest;
  if (tile_pixels > 0 && largest < cap) {
    const int64_t side = RequestSide(grid, cap, false), fitting = (largest - 1) * grid.stride + grid.window_width;
    return InvalidArgument("--tile " + std::to_string(tile_pixels) + " makes requests of up to " +
                           std::to_string(side) + "x" + std::to_string(RequestSide(grid, cap, true)) +
                           " pixels, over the server's dense limit of " + std::to_string(grid.max_request_pixels) +
                           " pixels (its --max-dense-pixels); use --tile " + std::to_string(fitting) +
                           " or less, or leave --tile out");
  }
  return largest;
}

int64_t CellsForTilePixels(const DenseGrid& grid, int64_t tile_pixels) {
  const int64_t window = std::max(grid.window_width, grid.window_height);
  return std::max<int64_t>(1, (tile_pixels - window) / grid.stride + 1);
}

}  // namespace fovea::slide
