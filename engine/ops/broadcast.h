#pragma once
// Numpy broadcasting for the reference kernels and backward passes of elementwise ops with several operands (Binary,
// Variadic, PRelu): walking the output with each operand's index, and summing a gradient back over broadcast axes.

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "engine/tensor.h"

namespace fovea::engine::ops {

// Numpy broadcast of two shapes, or an error naming both.
StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

// `shape` with leading 1s up to `rank` dimensions (at least one: oneDNN has no rank-0 memory).
Shape PadRank(const Shape& shape, size_t rank);

// Row-major strides of `shape` (padded to the rank of `out`) with 0 along the axes it is broadcast on.
std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out);

// Calls visit(flat, ia, ib) for every element of `out` in row-major order, with the flat indices of the elements of
// `a` and `b` (each broadcast to `out`) that it reads.
template <typename Visit>
void ForEachBroadcast(const Shape& out, const Shape& a, const Shape& b, Visit visit) {
  const Shape po = PadRank(out, out.size());
  const std::vector<int64_t> sa = BroadcastStrides(a, po), sb = BroadcastStrides(b, po);
  std::vector<int64_t> index(po.size(), 0);
  int64_t ia = 0, ib = 0;
  const int64_t total = NumElements(po);
  for (int64_t flat = 0; flat < total; ++flat) {
    visit(flat, ia, ib);
    // Odometer step: the innermost axis advances; axes that wrap rewind their contribution to both operand indices.
    for (size_t d = po.size(); d-- > 0;) {
      ia += sa[d];
      ib += sb[d];
      if (++index[d] < po[d]) break;
      ia -= sa[d] * po[d];
      ib -= sb[d] * po[d];
      index[d] = 0;
    }
  }
}

// `grad` (float32, of a broadcast output's shape) summed over the axes along which an operand of `shape` was broadcast:
// that operand's gradient.
Tensor SumToShape(const Tensor& grad, const Shape& shape);

}  // namespace fovea::engine::ops
