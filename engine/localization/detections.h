#pragma once
// From heatmaps to objects: local maxima above a threshold become scored boxes, and per-class non-maximum
// suppression keeps the best of overlapping boxes.

#include <cstdint>
#include <vector>

#include "engine/localization/map_geometry.h"
#include "engine/tensor.h"

namespace fovea::engine::localization {

// A box in image pixels: (x_min, y_min) inclusive, (x_max, y_max) exclusive.
struct Box {
  float x_min = 0, y_min = 0, x_max = 0, y_max = 0;
};

struct Detection {
  int64_t class_index = 0;
  float score = 0;  // the map's value at the peak
  Box box;
};

// How a peak becomes a box.
enum class BoxShape {
  kWindow,  // the geometry's window centred on the peak cell (dense sliding-window maps)
  kRegion,  // the cells connected to the peak (8-neighbourhood) whose value is at least the threshold (CAM, Grad-CAM)
};

// Peaks of `map` ([rows, cols]) at or above `threshold`: cells no smaller than any of their 8 neighbours (on a
// plateau only the first cell in row-major order counts). Boxes are clipped to the image_width x image_height frame.
std::vector<Detection> FindPeaks(const Tensor& map, int64_t class_index, float threshold, const MapGeometry& geometry,
                                 BoxShape shape, int64_t image_width, int64_t image_height);

// Intersection over union of two boxes (0 when either is empty).
float IntersectionOverUnion(const Box& a, const Box& b);

// Keeps, per class, each detection whose box overlaps no better-scoring kept box of its class by more than
// `max_iou`; returns them best first (ties by class, then position, for a stable order).
std::vector<Detection> NonMaximumSuppression(std::vector<Detection> detections, float max_iou);

}  // namespace fovea::engine::localization
