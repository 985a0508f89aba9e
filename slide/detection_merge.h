#pragma once
// Detections of neighbouring tiles merged into the slide's: each tile reports the peaks of the cells it owns, so an
// object whose map peaks on both sides of a tile border is reported twice; same-class boxes overlapping more than
// the NMS threshold keep only the higher score, as the server does within one image.

#include <vector>

#include "slide/slide_store.h"

namespace fovea::slide {

// The server's default for LocalizeRequest.nms_iou (server/api/localizer.h), used when --nms-iou is not given.
inline constexpr float kDefaultNmsIou = 0.3f;

// Greedy non-maximum suppression per class, best score first; near-linear (boxes are bucketed by position). The
// result is sorted by score, best first.
std::vector<SlideDetection> MergeDetections(std::vector<SlideDetection> detections, float nms_iou);

double IntersectionOverUnion(const SlideDetection& a, const SlideDetection& b);

}  // namespace fovea::slide
