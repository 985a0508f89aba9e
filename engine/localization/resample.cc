#include "engine/localization/resample.h"

#include <algorithm>
#include <cmath>

namespace fovea::engine::localization {
namespace {

// Integer cell below `position` (clamped into the map), and the weight of the cell after it.
struct Sample {
  int64_t low, high;
  float weight;
};

Sample At(double position, int64_t cells) {
  const double clamped = std::clamp(position, 0.0, static_cast<double>(cells - 1));
  const auto low = static_cast<int64_t>(std::floor(clamped));
  return {low, std::min(low + 1, cells - 1), static_cast<float>(clamped - static_cast<double>(low))};
}

}  // namespace

Tensor ResampleToImage(const Tensor& map, const MapGeometry& geometry, int64_t width, int64_t height) {
  Tensor image(DataType::kFloat32, {height, width});
  const int64_t rows = map.dim(0), cols = map.dim(1);
  const float* v = map.data<float>();
  std::vector<Sample> xs;
  xs.reserve(static_cast<size_t>(width));
  for (int64_t x = 0; x < width; ++x) {
    xs.push_back(At((static_cast<double>(x) + 0.5 - geometry.offset_x) / geometry.stride_x, cols));
  }
  for (int64_t y = 0; y < height; ++y) {
    const Sample sy = At((static_cast<double>(y) + 0.5 - geometry.offset_y) / geometry.stride_y, rows);
    float* out = image.data<float>() + y * width;
    for (int64_t x = 0; x < width; ++x) {
      const Sample& sx = xs[static_cast<size_t>(x)];
      const float top = v[sy.low * cols + sx.low] * (1 - sx.weight) + v[sy.low * cols + sx.high] * sx.weight;
      const float bottom = v[sy.high * cols + sx.low] * (1 - sx.weight) + v[sy.high * cols + sx.high] * sx.weight;
      out[x] = top * (1 - sy.weight) + bottom * sy.weight;
    }
  }
  return image;
}

}  // namespace fovea::engine::localization
