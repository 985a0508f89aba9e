#pragma once
// The optional background class: "nothing here" examples so a classifier used on sliding windows (the dense
// localization pass) can say so. Built deterministically from the seed out of the real images, and shaped after
// the windows a dense pass over a scene of items on black sees between and around the items:
//   - empty (black) windows and noise at random intensities;
//   - a partial object: a real image shifted so that at most kMaxVisibleFraction of its window remains (an edge,
//     a side or a corner of an item), which keeps windows next to an item from repeating its class;
//   - a straddle: the facing parts of two neighbouring items (each at most kMaxVisibleFraction visible);
//   - fragments: one to three small crops (2/7 to 1/2 of the side, i.e. 8-14 px of 28) of other images anywhere in
//     the window, sometimes beside a partial object, like clutter.
// kMaxVisibleFraction is below 0.46, the overlap at which a window's box has IoU 0.3 with the item's box: windows
// that overlap an item less than that are not suppressed by NMS around the item's detection, so they must say
// background.

#include <cstdint>

#include "trainer/dataset.h"

namespace fovea::trainer {

inline constexpr char kBackgroundLabel[] = "background";
inline constexpr double kMaxVisibleFraction = 0.45;

// Appends class kBackgroundLabel to `dataset` with `count` generated images, cycling through the kinds above
// (per 10 images: 1 empty, 1 noise, 3 partial objects, 2 straddles, 3 fragment sets; image 0 is empty, 1 noise,
// 2 a partial object, 3 a straddle, 4 fragments). Returns the class index.
int64_t AddBackgroundClass(Dataset& dataset, int64_t count, uint64_t seed);

}  // namespace fovea::trainer
