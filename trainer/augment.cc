#include "trainer/augment.h"

namespace fovea::trainer {
namespace {

constexpr float kPixelScale = 1.0f / 255.0f;

float ChannelValue(const std::vector<float>& values, int64_t c) {
  return values.size() == 1 ? values[0] : values[static_cast<size_t>(c)];
}

// One image, shifted by (dy, dx) with zeros (pixel value 0, i.e. black) shifted in, optionally mirrored.
void CopyImage(const Dataset& dataset, int64_t index, const Normalization& norm, int64_t dy, int64_t dx, bool flip,
               float* dst) {
  const int64_t h = dataset.height, w = dataset.width;
  const uint8_t* src = dataset.image(index).data();
  for (int64_t c = 0; c < dataset.channels; ++c) {
    const float mean = ChannelValue(norm.mean, c);
    const float inv_std = 1.0f / ChannelValue(norm.std, c);
    const float background = (0.0f - mean) * inv_std;
    for (int64_t y = 0; y < h; ++y) {
      const int64_t sy = y + dy;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sx = (flip ? w - 1 - x : x) + dx;
        float v = background;
        if (sy >= 0 && sy < h && sx >= 0 && sx < w) v = (src[(c * h + sy) * w + sx] * kPixelScale - mean) * inv_std;
        dst[(c * h + y) * w + x] = v;
      }
    }
  }
}

}  // namespace

void AssembleBatch(const Dataset& dataset, std::span<const int64_t> indices, const Normalization& norm,
                   const AugmentOptions* augment, uint64_t seed, float* dst, int32_t* labels) {
  const int64_t elements = dataset.image_elements();
  const auto n = static_cast<int64_t>(indices.size());
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const int64_t index = indices[static_cast<size_t>(i)];
    int64_t dy = 0, dx = 0;
    bool flip = false;
    if (augment != nullptr) {
      const uint64_t r = MixSeed(seed ^ MixSeed(static_cast<uint64_t>(index)));
      const int64_t span = 2 * augment->crop_padding + 1;
      if (augment->crop_padding > 0) {
        dy = static_cast<int64_t>(r % static_cast<uint64_t>(span)) - augment->crop_padding;
        dx = static_cast<int64_t>((r >> 16) % static_cast<uint64_t>(span)) - augment->crop_padding;
      }
      flip = augment->horizontal_flip && ((r >> 40) & 1U) != 0;
    }
    CopyImage(dataset, index, norm, dy, dx, flip, dst + i * elements);
    labels[i] = dataset.labels[static_cast<size_t>(index)];
  }
}

}  // namespace fovea::trainer
