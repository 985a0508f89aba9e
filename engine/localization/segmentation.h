#pragma once
// Segmentation maps: a model whose output is a per-pixel class map ([1, C, h, w], h or w > 1: FCN, DeepLab, LR-ASPP,
// U-Net) already says where each class is; localization only turns its scores into probabilities, reads them at every
// pixel of the image and finds the regions of each class.

#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace fovea::engine::localization {

// What a segmentation output's values are, and so what turns them into probabilities.
enum class PlaneScores {
  kLogits,             // of mutually exclusive classes: softmax over the classes of each cell
  kIndependentLogits,  // one logit per class and cell (multi-label): sigmoid of each
  kProbabilities,      // already probabilities (the model ends in Softmax or Sigmoid): as they are
};

// The [C, h, w] class probabilities of a segmentation output [1, C, h, w]. INVALID_ARGUMENT for another shape.
StatusOr<Tensor> ClassProbabilityPlanes(const Tensor& output, PlaneScores scores);

// The classes that win (the largest probability) at one cell at least, those winning the most cells first (ties by
// index), `skip` (a background class, or -1) left out. `planes` is [C, h, w].
std::vector<int64_t> WinningClasses(const Tensor& planes, int64_t skip);

// Plane `class_index` of `planes` ([C, h, w]) as an [h, w] tensor.
Tensor ClassPlane(const Tensor& planes, int64_t class_index);

}  // namespace fovea::engine::localization
