#include "engine/localization/detections.h"

#include <algorithm>
#include <vector>

namespace fovea::engine::localization {
namespace {

struct Cell {
  int64_t row, col;
};

// Whether `cell` is a peak: no neighbour is larger, and no earlier neighbour (row-major) is equal.
bool IsPeak(const Tensor& map, Cell cell) {
  const int64_t rows = map.dim(0), cols = map.dim(1);
  const float* v = map.data<float>();
  const float value = v[cell.row * cols + cell.col];
  for (int64_t dy = -1; dy <= 1; ++dy) {
    for (int64_t dx = -1; dx <= 1; ++dx) {
      const int64_t r = cell.row + dy, c = cell.col + dx;
      if ((dy == 0 && dx == 0) || r < 0 || r >= rows || c < 0 || c >= cols) continue;
      const float other = v[r * cols + c];
      const bool earlier = dy < 0 || (dy == 0 && dx < 0);
      if (other > value || (earlier && other == value)) return false;
    }
  }
  return true;
}

Box CellBox(const MapGeometry& g, Cell cell, double width, double height) {
  const double cx = g.offset_x + static_cast<double>(cell.col) * g.stride_x;
  const double cy = g.offset_y + static_cast<double>(cell.row) * g.stride_y;
  return {static_cast<float>(cx - width / 2), static_cast<float>(cy - height / 2), static_cast<float>(cx + width / 2),
          static_cast<float>(cy + height / 2)};
}

Box Union(const Box& a, const Box& b) {
  return {std::min(a.x_min, b.x_min), std::min(a.y_min, b.y_min), std::max(a.x_max, b.x_max),
          std::max(a.y_max, b.y_max)};
}

// The bounding box of the cells at or above `threshold` connected to `seed`.
Box RegionBox(const Tensor& map, Cell seed, float threshold, const MapGeometry& g) {
  const int64_t rows = map.dim(0), cols = map.dim(1);
  std::vector<bool> seen(static_cast<size_t>(rows * cols), false);
  std::vector<Cell> stack = {seed};
  seen[static_cast<size_t>(seed.row * cols + seed.col)] = true;
  Box box = CellBox(g, seed, g.stride_x, g.stride_y);
  while (!stack.empty()) {
    const Cell cell = stack.back();
    stack.pop_back();
    box = Union(box, CellBox(g, cell, g.stride_x, g.stride_y));
    for (int64_t dy = -1; dy <= 1; ++dy) {
      for (int64_t dx = -1; dx <= 1; ++dx) {
        const int64_t r = cell.row + dy, c = cell.col + dx;
        if (r < 0 || r >= rows || c < 0 || c >= cols) continue;
        const auto index = static_cast<size_t>(r * cols + c);
        if (seen[index] || map.data<float>()[index] < threshold) continue;
        seen[index] = true;
        stack.push_back({r, c});
      }
    }
  }
  return box;
}

Box Clipped(Box box, int64_t width, int64_t height) {
  box.x_min = std::clamp(box.x_min, 0.0f, static_cast<float>(width));
  box.x_max = std::clamp(box.x_max, 0.0f, static_cast<float>(width));
  box.y_min = std::clamp(box.y_min, 0.0f, static_cast<float>(height));
  box.y_max = std::clamp(box.y_max, 0.0f, static_cast<float>(height));
  return box;
}

float Area(const Box& b) { return std::max(0.0f, b.x_max - b.x_min) * std::max(0.0f, b.y_max - b.y_min); }

}  // namespace

std::vector<Detection> FindPeaks(const Tensor& map, int64_t class_index, float threshold, const MapGeometry& geometry,
                                 BoxShape shape, int64_t image_width, int64_t image_height) {
  std::vector<Detection> peaks;
  if (map.rank() != 2) return peaks;
  for (int64_t row = 0; row < map.dim(0); ++row) {
    for (int64_t col = 0; col < map.dim(1); ++col) {
      const float value = map.data<float>()[row * map.dim(1) + col];
      if (value < threshold || !IsPeak(map, {row, col})) continue;
      const Box box = shape == BoxShape::kWindow
                          ? CellBox(geometry, {row, col}, static_cast<double>(geometry.window_width),
                                    static_cast<double>(geometry.window_height))
                          : RegionBox(map, {row, col}, threshold, geometry);
      peaks.push_back({class_index, value, Clipped(box, image_width, image_height)});
    }
  }
  return peaks;
}

float IntersectionOverUnion(const Box& a, const Box& b) {
  const Box overlap = {std::max(a.x_min, b.x_min), std::max(a.y_min, b.y_min), std::min(a.x_max, b.x_max),
                       std::min(a.y_max, b.y_max)};
  const float intersection = Area(overlap);
  const float union_area = Area(a) + Area(b) - intersection;
  return union_area > 0.0f ? intersection / union_area : 0.0f;
}

std::vector<Detection> NonMaximumSuppression(std::vector<Detection> detections, float max_iou) {
  std::stable_sort(detections.begin(), detections.end(), [](const Detection& a, const Detection& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.class_index < b.class_index;
  });
  std::vector<Detection> kept;
  for (const Detection& candidate : detections) {
    const bool suppressed = std::any_of(kept.begin(), kept.end(), [&](const Detection& k) {
      return k.class_index == candidate.class_index && IntersectionOverUnion(k.box, candidate.box) > max_iou;
    });
    if (!suppressed) kept.push_back(candidate);
  }
  return kept;
}

}  // namespace fovea::engine::localization
