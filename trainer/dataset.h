#pragma once
// Dataset: labelled 8-bit images of one size held in memory (planar CHW per image), plus the split and shuffling
// helpers the training loop uses. Loaders (dataset_idx, dataset_folder) produce it.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace fovea::trainer {

struct Dataset {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;           // size() * channels * height * width, image after image, planar CHW
  std::vector<int32_t> labels;           // one class index per image
  std::vector<std::string> class_names;  // by class index
  std::string source;                    // where it came from, for provenance ("fashion-mnist train")

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t image_elements() const { return channels * height * width; }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  std::span<const uint8_t> image(int64_t index) const {
    return {pixels.data() + index * image_elements(), static_cast<size_t>(image_elements())};
  }
};

// The images at `indices`, in that order (same geometry and class names).
Dataset Subset(const Dataset& dataset, std::span<const int64_t> indices);

// A deterministic permutation of [0, n) from `seed` (same seed, same order on every machine).
std::vector<int64_t> ShuffledIndices(int64_t n, uint64_t seed);

// Splits off `fraction` (0 ≤ fraction < 1) of `dataset` as validation data, chosen by `seed`; the rest is training.
struct Split {
  Dataset train;
  Dataset validation;
};
StatusOr<Split> SplitValidation(const Dataset& dataset, double fraction, uint64_t seed);

// Keeps the first `limit` images of each class in a stable order (for quick runs and tests); limit ≤ 0 keeps all.
Dataset LimitPerClass(const Dataset& dataset, int64_t limit);

// SplitMix64: a tiny, well-mixed hash used to derive independent per-sample random streams from one seed.
uint64_t MixSeed(uint64_t x);

}  // namespace fovea::trainer
