#pragma once
// Where a localization map's cells lie in the input image.

#include <cstdint>

namespace fovea::engine::localization {

// Cell (row, col) describes the input pixels centred on (offset_x + col * stride_x, offset_y + row * stride_y), in
// continuous pixel coordinates (pixel x spans [x, x + 1)). For dense maps the cell is the window of window_width x
// window_height pixels at that centre; for CAM and Grad-CAM it is one stride-sized cell of the image.
struct MapGeometry {
  double stride_x = 1.0;
  double stride_y = 1.0;
  double offset_x = 0.5;
  double offset_y = 0.5;
  int64_t window_width = 1;
  int64_t window_height = 1;
};

// The geometry of a rows x cols map covering a width x height image cell by cell (CAM, Grad-CAM).
inline MapGeometry CoveringGeometry(int64_t rows, int64_t cols, int64_t width, int64_t height) {
  MapGeometry g;
  g.stride_x = static_cast<double>(width) / static_cast<double>(cols);
  g.stride_y = static_cast<double>(height) / static_cast<double>(rows);
  g.offset_x = g.stride_x / 2.0;
  g.offset_y = g.stride_y / 2.0;
  g.window_width = (width + cols - 1) / cols;
  g.window_height = (height + rows - 1) / rows;
  return g;
}

}  // namespace fovea::engine::localization
