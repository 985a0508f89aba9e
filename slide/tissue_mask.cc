#include "slide/tissue_mask.h"

#include <algorithm>
#include <cmath>

namespace fovea::slide {

OtsuSplit Otsu(const std::vector<int64_t>& histogram) {
  double total = 0, weighted = 0;
  for (size_t level = 0; level < histogram.size(); ++level) {
    total += static_cast<double>(histogram[level]);
    weighted += static_cast<double>(level) * static_cast<double>(histogram[level]);
  }
  OtsuSplit best;
  double best_variance = -1, below = 0, below_weighted = 0;
  for (size_t level = 0; level + 1 < histogram.size(); ++level) {
    below += static_cast<double>(histogram[level]);
    below_weighted += static_cast<double>(level) * static_cast<double>(histogram[level]);
    const double above = total - below;
    if (below == 0 || above == 0) continue;
    const double mean_below = below_weighted / below, mean_above = (weighted - below_weighted) / above;
    const double variance = below * above * (mean_above - mean_below) * (mean_above - mean_below);
    if (variance > best_variance) {
      best_variance = variance;
      best = {static_cast<int>(level), mean_above - mean_below};
    }
  }
  return best;
}

TissueMask::TissueMask(const Pixels& thumbnail, int64_t image_width, int64_t image_height)
    : width_(thumbnail.width), height_(thumbnail.height) {
  scale_x_ = static_cast<double>(image_width) / static_cast<double>(std::max<int64_t>(1, width_));
  scale_y_ = static_cast<double>(image_height) / static_cast<double>(std::max<int64_t>(1, height_));
  const size_t pixels = static_cast<size_t>(width_ * height_);
  std::vector<uint8_t> grey(pixels);
  std::vector<int64_t> histogram(256, 0);
  for (size_t i = 0; i < pixels; ++i) {
    int sum = 0;
    for (int64_t b = 0; b < thumbnail.bands; ++b) sum += thumbnail.data[i * static_cast<size_t>(thumbnail.bands) + b];
    grey[i] = static_cast<uint8_t>(sum / std::max<int64_t>(1, thumbnail.bands));
    ++histogram[grey[i]];
  }
  const OtsuSplit split = Otsu(histogram);
  threshold_ = split.mean_distance >= kMinContrast ? split.threshold : 255;
  tissue_.resize(pixels);
  size_t count = 0;
  for (size_t i = 0; i < pixels; ++i) {
    tissue_[i] = grey[i] <= threshold_ ? 1 : 0;
    count += tissue_[i];
  }
  fraction_ = pixels == 0 ? 1.0 : static_cast<double>(count) / static_cast<double>(pixels);
}

bool TissueMask::AnyTissue(const PixelRect& rect) const {
  if (width_ == 0 || height_ == 0) return true;
  const auto clamp = [](int64_t v, int64_t hi) { return std::clamp<int64_t>(v, 0, hi); };
  const int64_t x0 = clamp(static_cast<int64_t>(std::floor(static_cast<double>(rect.x) / scale_x_)), width_ - 1);
  const int64_t y0 = clamp(static_cast<int64_t>(std::floor(static_cast<double>(rect.y) / scale_y_)), height_ - 1);
  const int64_t x1 =
      clamp(static_cast<int64_t>(std::ceil(static_cast<double>(rect.x + rect.width) / scale_x_)), width_);
  const int64_t y1 =
      clamp(static_cast<int64_t>(std::ceil(static_cast<double>(rect.y + rect.height) / scale_y_)), height_);
  for (int64_t y = y0; y < std::max(y1, y0 + 1); ++y) {
    for (int64_t x = x0; x < std::max(x1, x0 + 1); ++x) {
      if (tissue_[static_cast<size_t>(y * width_ + x)] != 0) return true;
    }
  }
  return false;
}

}  // namespace fovea::slide
