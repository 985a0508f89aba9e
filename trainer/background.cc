#include "trainer/background.h"

#include <algorithm>

namespace fovea::trainer {
namespace {

enum class BackgroundKind { kEmpty, kNoise, kPartialObject };
constexpr int kKinds = 3;
// A partial crop keeps at most this fraction of the object's extent inside the window, per axis.
constexpr double kMaxVisibleFraction = 0.4;

void PartialObject(const Dataset& source, uint64_t r, uint8_t* dst) {
  const int64_t h = source.height, w = source.width;
  const int64_t index = static_cast<int64_t>((r >> 8) % static_cast<uint64_t>(source.size()));
  const uint8_t* src = source.image(index).data();
  // Shift the image by most of its size towards a random corner, so only an edge of the object remains.
  const auto visible_h = static_cast<int64_t>(static_cast<double>(h) * kMaxVisibleFraction);
  const auto visible_w = static_cast<int64_t>(static_cast<double>(w) * kMaxVisibleFraction);
  const int64_t dy =
      ((r >> 40) & 1 ? 1 : -1) * (h - 1 - static_cast<int64_t>((r >> 44) % static_cast<uint64_t>(visible_h + 1)));
  const int64_t dx =
      ((r >> 41) & 1 ? 1 : -1) * (w - 1 - static_cast<int64_t>((r >> 50) % static_cast<uint64_t>(visible_w + 1)));
  for (int64_t c = 0; c < source.channels; ++c) {
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = y + dy, sx = x + dx;
        dst[(c * h + y) * w + x] = (sy >= 0 && sy < h && sx >= 0 && sx < w) ? src[(c * h + sy) * w + sx] : 0;
      }
    }
  }
}

}  // namespace

int64_t AddBackgroundClass(Dataset& dataset, int64_t count, uint64_t seed) {
  const Dataset source = dataset;  // partial crops come from the real images only
  const int64_t elements = dataset.image_elements();
  const auto label = static_cast<int32_t>(dataset.class_names.size());
  dataset.class_names.push_back(kBackgroundLabel);
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t r = MixSeed(seed ^ MixSeed(static_cast<uint64_t>(i) + 0xbac6ULL));
    const size_t base = dataset.pixels.size();
    dataset.pixels.resize(base + static_cast<size_t>(elements), 0);
    uint8_t* dst = dataset.pixels.data() + base;
    const auto kind = static_cast<BackgroundKind>(i % kKinds);
    if (kind == BackgroundKind::kNoise) {
      const auto peak = static_cast<uint64_t>(1 + r % 255);
      for (int64_t j = 0; j < elements; ++j) {
        dst[j] = static_cast<uint8_t>(MixSeed(r + static_cast<uint64_t>(j)) % (peak + 1));
      }
    } else if (kind == BackgroundKind::kPartialObject && source.size() > 0) {
      PartialObject(source, r, dst);
    }
    dataset.labels.push_back(label);
  }
  return label;
}

}  // namespace fovea::trainer
