#pragma once
// Axis bookkeeping shared by the reducing ops (Reduce*, ArgMax/ArgMin, MeanVarianceNormalization): normalizing ONNX
// axes and mapping each input element to the output element it is reduced into.

#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/tensor.h"

namespace fovea::engine::ops {

// `axes` of a rank-`rank` tensor made non-negative, sorted and unique; InvalidArgument names an axis out of range.
StatusOr<std::vector<int64_t>> NormalizeAxes(std::span<const int64_t> axes, int64_t rank);

// `shape` with each of the (normalized) `axes` set to 1: the keepdims=1 result shape.
Shape KeepDimsShape(const Shape& shape, const std::vector<int64_t>& axes);
// `shape` without the (normalized) `axes`: the keepdims=0 result shape.
Shape DropAxes(const Shape& shape, const std::vector<int64_t>& axes);

// For each flat element of `shape`, the flat index of the element of KeepDimsShape(shape, axes) it reduces into.
std::vector<int64_t> ReducedIndex(const Shape& shape, const std::vector<int64_t>& axes);

}  // namespace fovea::engine::ops
