#pragma once
// Which parts of a slide hold tissue, from a low-resolution view, so tiles of empty glass are not sent at all: Otsu's
// threshold on the grey levels (tissue is darker than the bright glass around it), as pathology tools do.

#include <cstdint>
#include <vector>

#include "slide/slide_image.h"
#include "slide/tile_plan.h"

namespace fovea::slide {

class TissueMask {
 public:
  // From `thumbnail` (RGB) of an image of image_width x image_height pixels. When the thumbnail has no two clearly
  // different grey populations (Otsu's class means closer than kMinContrast grey levels: all tissue, or all glass),
  // every pixel counts as tissue, so nothing is skipped by mistake.
  TissueMask(const Pixels& thumbnail, int64_t image_width, int64_t image_height);

  // Whether any thumbnail pixel touching `rect` (image pixels) is tissue.
  bool AnyTissue(const PixelRect& rect) const;

  // Whether thumbnail pixel (x, y) is tissue.
  bool IsTissue(int64_t x, int64_t y) const { return tissue_[static_cast<size_t>(y * width_ + x)] != 0; }

  int threshold() const { return threshold_; }          // grey levels at or below are tissue (255: everything)
  double tissue_fraction() const { return fraction_; }  // of the thumbnail's pixels
  static constexpr int kMinContrast = 20;

 private:
  int64_t width_ = 0, height_ = 0;        // the thumbnail's
  double scale_x_ = 1.0, scale_y_ = 1.0;  // image pixels per thumbnail pixel
  std::vector<uint8_t> tissue_;
  int threshold_ = 255;
  double fraction_ = 1.0;
};

// Otsu's threshold of a 256-bin histogram: the level t that best separates [0, t] from (t, 255] (largest
// between-class variance), and the distance between the two classes' means.
struct OtsuSplit {
  int threshold = 255;
  double mean_distance = 0.0;
};
OtsuSplit Otsu(const std::vector<int64_t>& histogram);

}  // namespace fovea::slide
