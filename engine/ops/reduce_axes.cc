#include "engine/ops/reduce_axes.h"

#include <algorithm>
#include <string>

namespace fovea::engine::ops {

StatusOr<std::vector<int64_t>> NormalizeAxes(std::span<const int64_t> axes, int64_t rank) {
  std::vector<int64_t> normalized;
  for (int64_t axis : axes) {
    if (axis < -rank || axis >= std::max<int64_t>(rank, 1)) {
      return InvalidArgument("axis " + std::to_string(axis) + " is outside a rank-" + std::to_string(rank) + " input");
    }
    normalized.push_back(axis < 0 ? axis + rank : axis);
  }
  std::sort(normalized.begin(), normalized.end());
  normalized.erase(std::unique(normalized.begin(), normalized.end()), normalized.end());
  // A scalar has no axes; axis 0 of it reduces nothing.
  if (rank == 0) normalized.clear();
  return normalized;
}

Shape KeepDimsShape(const Shape& shape, const std::vector<int64_t>& axes) {
  Shape keep = shape;
  for (int64_t axis : axes) keep[static_cast<size_t>(axis)] = 1;
  return keep;
}

Shape DropAxes(const Shape& shape, const std::vector<int64_t>& axes) {
  Shape kept;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d))) kept.push_back(shape[d]);
  }
  return kept;
}

std::vector<int64_t> ReducedIndex(const Shape& shape, const std::vector<int64_t>& axes) {
  const Shape keep = KeepDimsShape(shape, axes);
  // Row-major strides of the keep-dims shape, 0 along reduced axes so every element of a group lands on one index.
  std::vector<int64_t> strides(shape.size(), 0);
  int64_t stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] =
        keep[d] == shape[d] && !std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(d)) ? stride : 0;
    stride *= keep[d];
  }
  std::vector<int64_t> index(static_cast<size_t>(NumElements(shape)));
  std::vector<int64_t> position(shape.size(), 0);
  for (int64_t& out : index) {
    int64_t flat = 0;
    for (size_t d = 0; d < shape.size(); ++d) flat += position[d] * strides[d];
    out = flat;
    for (size_t d = shape.size(); d-- > 0;) {
      if (++position[d] < shape[d]) break;
      position[d] = 0;
    }
  }
  return index;
}

}  // namespace fovea::engine::ops
