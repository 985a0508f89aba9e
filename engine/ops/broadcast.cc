#include "engine/ops/broadcast.h"

#include <algorithm>

namespace fovea::engine::ops {

StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes " + ShapeToString(a) + " and " + ShapeToString(b) + " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

Shape PadRank(const Shape& shape, size_t rank) {
  const size_t target = std::max<size_t>(rank, 1);
  Shape padded(target - std::min(shape.size(), target), 1);
  padded.insert(padded.end(), shape.begin(), shape.end());
  return padded;
}

std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out) {
  const Shape padded = PadRank(shape, out.size());
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = out.size(); i-- > 0;) {
    strides[i] = padded[i] == 1 ? 0 : stride;
    stride *= padded[i];
  }
  return strides;
}

Tensor SumToShape(const Tensor& grad, const Shape& shape) {
  std::vector<double> sums(static_cast<size_t>(NumElements(shape)), 0.0);
  const float* g = grad.data<float>();
  ForEachBroadcast(grad.shape(), shape, shape, [&](int64_t flat, int64_t i, int64_t) { sums[i] += g[flat]; });
  Tensor reduced(DataType::kFloat32, shape);
  std::copy(sums.begin(), sums.end(), reduced.data<float>());
  return reduced;
}

}  // namespace fovea::engine::ops
