#pragma once
// Batch assembly: copies images into a float NCHW batch, normalizing (pixel / 255 - mean) / std, optionally with
// training augmentation (random crop from a zero-padded image, horizontal flip) drawn from a per-sample seed so a
// batch is identical whatever the thread count.

#include <cstdint>
#include <span>
#include <vector>

#include "trainer/dataset.h"

namespace fovea::trainer {

struct AugmentOptions {
  int64_t crop_padding = 0;  // random crop of the original size from the image padded by this many pixels (0 = off)
  bool horizontal_flip = false;
};

// Per-channel normalization of pixels scaled to [0, 1]; one value broadcasts to every channel.
struct Normalization {
  std::vector<float> mean = {0.0f};
  std::vector<float> std = {1.0f};
};

// Writes images `indices` of `dataset` into `dst` (indices.size() * C * H * W floats) and their labels into
// `labels`. With `augment`, sample i uses the random stream MixSeed(seed ^ i-th index).
void AssembleBatch(const Dataset& dataset, std::span<const int64_t> indices, const Normalization& norm,
                   const AugmentOptions* augment, uint64_t seed, float* dst, int32_t* labels);

}  // namespace fovea::trainer
