#include "engine/ops/normalization_kernels.h"

#include <cmath>

namespace fovea::engine::ops {

RowStats ComputeRowStats(std::span<const float> x, int64_t rows, int64_t cols, float epsilon) {
  RowStats stats;
  stats.mean.resize(static_cast<size_t>(rows));
  stats.inv_std.resize(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    const auto row = x.subspan(static_cast<size_t>(r * cols), static_cast<size_t>(cols));
    double sum = 0.0;
    for (float v : row) sum += v;
    const double mean = sum / static_cast<double>(cols);
    double squares = 0.0;
    for (float v : row) squares += (v - mean) * (v - mean);
    stats.mean[static_cast<size_t>(r)] = mean;
    stats.inv_std[static_cast<size_t>(r)] = 1.0 / std::sqrt(squares / static_cast<double>(cols) + epsilon);
  }
  return stats;
}

void NormalizedRowsBackward(std::span<const float> x, const RowStats& stats, std::span<const double> g, int64_t cols,
                            std::span<float> dx) {
  const auto rows = static_cast<int64_t>(stats.mean.size());
  const auto n = static_cast<double>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const double mean = stats.mean[static_cast<size_t>(r)];
    const double inv_std = stats.inv_std[static_cast<size_t>(r)];
    const auto at = [&](int64_t c) { return static_cast<size_t>(r * cols + c); };
    // dx = inv_std·(g − mean(g) − x̂·mean(g·x̂)): the mean and the variance both depend on every x of the row.
    double g_sum = 0.0, g_xhat_sum = 0.0;
    for (int64_t c = 0; c < cols; ++c) {
      g_sum += g[at(c)];
      g_xhat_sum += g[at(c)] * (x[at(c)] - mean) * inv_std;
    }
    for (int64_t c = 0; c < cols; ++c) {
      const double xhat = (x[at(c)] - mean) * inv_std;
      dx[at(c)] = static_cast<float>(inv_std * (g[at(c)] - g_sum / n - xhat * g_xhat_sum / n));
    }
  }
}

}  // namespace fovea::engine::ops
