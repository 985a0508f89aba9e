#include "trainer/background.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace fovea::trainer {
namespace {

enum class BackgroundKind { kEmpty, kNoise, kPartialObject, kStraddle, kFragments };
// One cycle of kinds; its mix is documented in background.h.
constexpr std::array<BackgroundKind, 10> kCycle = {BackgroundKind::kEmpty,         BackgroundKind::kNoise,
                                                   BackgroundKind::kPartialObject, BackgroundKind::kStraddle,
                                                   BackgroundKind::kFragments,     BackgroundKind::kPartialObject,
                                                   BackgroundKind::kStraddle,      BackgroundKind::kFragments,
                                                   BackgroundKind::kPartialObject, BackgroundKind::kFragments};

// A deterministic stream of random numbers derived from one seed.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return state_ = MixSeed(state_); }
  // Uniform in [lo, hi]; lo when hi < lo.
  int64_t Uniform(int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Coin() { return (Next() & 1U) != 0; }

 private:
  uint64_t state_;
};

// Where one rectangle of a source image lands in the window: window pixel (y, x) shows source pixel
// (y + dy, x + dx) when that lies inside [top, top + height) x [left, left + width) of the source.
struct Placement {
  int64_t dy = 0, dx = 0;
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Draws `source` image `index` into `dst` as placed, keeping the brighter pixel where drawings meet.
void Paste(const Dataset& source, int64_t index, const Placement& p, uint8_t* dst) {
  const int64_t h = source.height, w = source.width;
  const uint8_t* src = source.image(index).data();
  for (int64_t c = 0; c < source.channels; ++c) {
    for (int64_t y = 0; y < h; ++y) {
      const int64_t sy = y + p.dy;
      if (sy < p.top || sy >= p.top + p.height) continue;
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sx = x + p.dx;
        if (sx < p.left || sx >= p.left + p.width) continue;
        uint8_t& out = dst[(c * h + y) * w + x];
        out = std::max(out, src[(c * h + sy) * w + sx]);
      }
    }
  }
}

int64_t RandomImage(const Dataset& source, Random& random) {
  return static_cast<int64_t>(random.Next() % static_cast<uint64_t>(source.size()));
}

// A whole source image shifted so that only `visible_h` rows and `visible_w` columns of its window remain, towards
// a random corner or side.
Placement Shifted(const Dataset& source, int64_t visible_h, int64_t visible_w, Random& random) {
  Placement p{0, 0, 0, 0, source.height, source.width};
  p.dy = (random.Coin() ? 1 : -1) * (source.height - visible_h);
  p.dx = (random.Coin() ? 1 : -1) * (source.width - visible_w);
  return p;
}

void PartialObject(const Dataset& source, Random& random, uint8_t* dst) {
  const int64_t h = source.height, w = source.width;
  const auto max_area = static_cast<int64_t>(kMaxVisibleFraction * static_cast<double>(h * w));
  // Any visible height; the width then keeps the visible area under the limit, biased towards the largest
  // allowed parts (the ones closest to a real detection, hence the most useful to learn).
  int64_t visible_h = random.Uniform(1, h);
  const int64_t max_w = std::clamp<int64_t>(max_area / visible_h, 1, w);
  int64_t visible_w = random.Uniform((max_w + 2) / 3, max_w);
  if (random.Coin()) {  // either axis may be the one cut most
    const int64_t swapped_h = std::clamp<int64_t>(visible_w * h / w, 1, h);
    visible_w = std::clamp<int64_t>(visible_h * w / h, 1, w);
    visible_h = swapped_h;
  }
  Paste(source, RandomImage(source, random), Shifted(source, visible_h, visible_w, random), dst);
}

// Two neighbouring items side by side (or one above the other), the window between them showing the facing part
// of each, each at most kMaxVisibleFraction of its window, with some misalignment across the cut.
void Straddle(const Dataset& source, Random& random, uint8_t* dst) {
  const bool horizontal = random.Coin();
  const int64_t along = horizontal ? source.width : source.height;
  const int64_t across = horizontal ? source.height : source.width;
  const auto max_visible = static_cast<int64_t>(kMaxVisibleFraction * static_cast<double>(along));
  for (const int side : {-1, 1}) {
    const int64_t visible = random.Uniform(std::max<int64_t>(1, along / 8), max_visible);
    const int64_t misalign = random.Uniform(-across / 4, across / 4);
    // side -1: the item before the window, its far end visible at the window's start; side 1: the next item.
    const int64_t shift_along = side < 0 ? along - visible : -(along - visible);
    Placement p{0, 0, 0, 0, source.height, source.width};
    p.dx = horizontal ? shift_along : misalign;
    p.dy = horizontal ? misalign : shift_along;
    Paste(source, RandomImage(source, random), p, dst);
  }
}

int64_t CropSum(const Dataset& source, int64_t index, const Placement& p) {
  int64_t sum = 0;
  const uint8_t* src = source.image(index).data();
  for (int64_t y = p.top; y < p.top + p.height; ++y) {
    for (int64_t x = p.left; x < p.left + p.width; ++x) sum += src[y * source.width + x];
  }
  return sum;
}

// One to three small crops of other images anywhere in the window (partly outside it too), the best-filled of a few
// candidate crops each so that fragments are rarely empty; a third of the time beside a partial object.
void Fragments(const Dataset& source, Random& random, uint8_t* dst) {
  const int64_t h = source.height, w = source.width;
  const int64_t count = random.Uniform(1, 3);
  for (int64_t f = 0; f < count; ++f) {
    const int64_t index = RandomImage(source, random);
    const int64_t fh = random.Uniform(std::max<int64_t>(1, h * 2 / 7), std::max<int64_t>(1, h / 2));
    const int64_t fw = random.Uniform(std::max<int64_t>(1, w * 2 / 7), std::max<int64_t>(1, w / 2));
    Placement best{0, 0, 0, 0, fh, fw};
    int64_t best_sum = -1;
    for (int attempt = 0; attempt < 3; ++attempt) {
      Placement p{0, 0, random.Uniform(0, h - fh), random.Uniform(0, w - fw), fh, fw};
      if (const int64_t s = CropSum(source, index, p); s > best_sum) {
        best = p;
        best_sum = s;
      }
    }
    const int64_t at_y = random.Uniform(-fh / 2, h - fh / 2), at_x = random.Uniform(-fw / 2, w - fw / 2);
    best.dy = best.top - at_y;
    best.dx = best.left - at_x;
    Paste(source, index, best, dst);
  }
  if (random.Uniform(0, 2) == 0) PartialObject(source, random, dst);
}

}  // namespace

int64_t AddBackgroundClass(Dataset& dataset, int64_t count, uint64_t seed) {
  const Dataset source = dataset;  // every kind is made of the real images only
  const int64_t elements = dataset.image_elements();
  const auto label = static_cast<int32_t>(dataset.class_names.size());
  dataset.class_names.push_back(kBackgroundLabel);
  for (int64_t i = 0; i < count; ++i) {
    Random random(seed ^ MixSeed(static_cast<uint64_t>(i) + 0xbac6ULL));
    const size_t base = dataset.pixels.size();
    dataset.pixels.resize(base + static_cast<size_t>(elements), 0);
    uint8_t* dst = dataset.pixels.data() + base;
    const BackgroundKind kind = kCycle[static_cast<size_t>(i) % kCycle.size()];
    if (kind == BackgroundKind::kNoise) {
      const auto peak = static_cast<uint64_t>(random.Uniform(1, 255));
      for (int64_t j = 0; j < elements; ++j) dst[j] = static_cast<uint8_t>(random.Next() % (peak + 1));
    } else if (source.size() > 0 && kind == BackgroundKind::kPartialObject) {
      PartialObject(source, random, dst);
    } else if (source.size() > 0 && kind == BackgroundKind::kStraddle) {
      Straddle(source, random, dst);
    } else if (source.size() > 0 && kind == BackgroundKind::kFragments) {
      Fragments(source, random, dst);
    }
    dataset.labels.push_back(label);
  }
  return label;
}

}  // namespace fovea::trainer
