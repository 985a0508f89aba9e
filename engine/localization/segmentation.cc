#include "engine/localization/segmentation.h"

#include <algorithm>
#include <cmath>

namespace fovea::engine::localization {

StatusOr<Tensor> ClassProbabilityPlanes(const Tensor& output, PlaneScores scores) {
  if (output.rank() != 4 || output.dim(0) != 1 || output.dim(1) < 1 || output.dim(2) * output.dim(3) <= 1) {
    return InvalidArgument("a segmentation map is [1, C, h, w] with h or w above 1, got " +
                           ShapeToString(output.shape()));
  }
  const int64_t classes = output.dim(1), cells = output.dim(2) * output.dim(3);
  Tensor planes(DataType::kFloat32, {classes, output.dim(2), output.dim(3)});
  const float* in = output.data<float>();
  float* out = planes.data<float>();
  if (scores == PlaneScores::kProbabilities) {
    std::copy(in, in + classes * cells, out);
    return planes;
  }
  if (scores == PlaneScores::kIndependentLogits) {
    for (int64_t i = 0; i < classes * cells; ++i) out[i] = 1.0f / (1.0f + std::exp(-in[i]));
    return planes;
  }
  // Stable softmax over the classes of each cell: the cell's maximum is subtracted first.
  for (int64_t cell = 0; cell < cells; ++cell) {
    float largest = in[cell];
    for (int64_t c = 1; c < classes; ++c) largest = std::max(largest, in[c * cells + cell]);
    double sum = 0.0;
    for (int64_t c = 0; c < classes; ++c) {
      out[c * cells + cell] = std::exp(in[c * cells + cell] - largest);
      sum += out[c * cells + cell];
    }
    const auto scale = static_cast<float>(1.0 / sum);
    for (int64_t c = 0; c < classes; ++c) out[c * cells + cell] *= scale;
  }
  return planes;
}

std::vector<int64_t> WinningClasses(const Tensor& planes, int64_t skip) {
  const int64_t classes = planes.dim(0), cells = planes.dim(1) * planes.dim(2);
  const float* p = planes.data<float>();
  std::vector<int64_t> wins(static_cast<size_t>(classes), 0);
  for (int64_t cell = 0; cell < cells; ++cell) {
    int64_t best = 0;
    for (int64_t c = 1; c < classes; ++c) {
      if (p[c * cells + cell] > p[best * cells + cell]) best = c;
    }
    ++wins[static_cast<size_t>(best)];
  }
  std::vector<int64_t> winners;
  for (int64_t c = 0; c < classes; ++c) {
    if (c != skip && wins[static_cast<size_t>(c)] > 0) winners.push_back(c);
  }
  std::stable_sort(winners.begin(), winners.end(), [&wins](int64_t a, int64_t b) {
    return wins[static_cast<size_t>(a)] > wins[static_cast<size_t>(b)];
  });
  return winners;
}

Tensor ClassPlane(const Tensor& planes, int64_t class_index) {
  const int64_t rows = planes.dim(1), cols = planes.dim(2);
  Tensor plane(DataType::kFloat32, {rows, cols});
  const float* source = planes.data<float>() + class_index * rows * cols;
  std::copy(source, source + rows * cols, plane.data<float>());
  return plane;
}

}  // namespace fovea::engine::localization
