#include "slide/detection_merge.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace fovea::slide {

double IntersectionOverUnion(const SlideDetection& a, const SlideDetection& b) {
  const double w = std::min(a.x_max, b.x_max) - std::max(a.x_min, b.x_min);
  const double h = std::min(a.y_max, b.y_max) - std::max(a.y_min, b.y_min);
  if (w <= 0 || h <= 0) return 0.0;
  const double inter = w * h;
  const double area_a = (a.x_max - a.x_min) * (a.y_max - a.y_min), area_b = (b.x_max - b.x_min) * (b.y_max - b.y_min);
  return inter / (area_a + area_b - inter);
}

std::vector<SlideDetection> MergeDetections(std::vector<SlideDetection> detections, float nms_iou) {
  std::stable_sort(detections.begin(), detections.end(),
                   [](const SlideDetection& a, const SlideDetection& b) { return a.score > b.score; });
  // Buckets as large as the largest box: boxes that overlap lie in the same or a neighbouring bucket.
  double bucket = 1.0;
  for (const SlideDetection& d : detections) bucket = std::max({bucket, d.x_max - d.x_min, d.y_max - d.y_min});
  using Key = std::tuple<int64_t, int64_t, int64_t>;  // class, bucket column, bucket row
  std::map<Key, std::vector<size_t>> kept_by_bucket;
  std::vector<SlideDetection> kept;
  for (const SlideDetection& d : detections) {
    const auto bx = static_cast<int64_t>(std::floor(d.x_min / bucket));
    const auto by = static_cast<int64_t>(std::floor(d.y_min / bucket));
    bool suppressed = false;
    for (int64_t dy = -1; dy <= 1 && !suppressed; ++dy) {
      for (int64_t dx = -1; dx <= 1 && !suppressed; ++dx) {
        const auto found = kept_by_bucket.find({d.class_index, bx + dx, by + dy});
        if (found == kept_by_bucket.end()) continue;
        for (size_t k : found->second) {
          if (IntersectionOverUnion(kept[k], d) > nms_iou) {
            suppressed = true;
            break;
          }
        }
      }
    }
    if (suppressed) continue;
    kept_by_bucket[{d.class_index, bx, by}].push_back(kept.size());
    kept.push_back(d);
  }
  return kept;
}

}  // namespace fovea::slide
