#pragma once
// Shared by the Resize tests: sampling parameters spelled in one call.

#include "engine/ops/resize.h"

namespace fovea::engine::testing {

inline ops::SamplingParams Sampling(ops::ResizeMode mode, ops::CoordinateTransform transform,
                                    ops::NearestRounding rounding = ops::NearestRounding::kRoundPreferFloor) {
  ops::SamplingParams s;
  s.mode = mode;
  s.transform = transform;
  s.rounding = rounding;
  return s;
}

}  // namespace fovea::engine::testing
