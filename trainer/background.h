#pragma once
// The optional background class: "nothing here" examples so a classifier used on sliding windows can say so. Built
// deterministically from the seed: empty (black) canvases, noise at random intensities, and partial-object crops
// (a corner of a real image shifted so that most of the object lies outside the window).

#include <cstdint>

#include "trainer/dataset.h"

namespace fovea::trainer {

inline constexpr char kBackgroundLabel[] = "background";

// Appends class kBackgroundLabel to `dataset` with `count` generated images (a third of each kind). Returns the
// class index.
int64_t AddBackgroundClass(Dataset& dataset, int64_t count, uint64_t seed);

}  // namespace fovea::trainer
