#pragma once
// Row statistics and the backward of x̂ = (x − mean)·inv_std, shared by the reference kernels of LayerNormalization and
// InstanceNormalization (both normalize the rows of a [rows, cols] view).

#include <cstdint>
#include <span>
#include <vector>

namespace fovea::engine::ops {

// Per-row mean and 1/sqrt(variance + epsilon), the variance being the biased mean of squared deviations.
struct RowStats {
  std::vector<double> mean;
  std::vector<double> inv_std;
};

RowStats ComputeRowStats(std::span<const float> x, int64_t rows, int64_t cols, float epsilon);

// d(loss)/dx for x̂ = (x − mean)·inv_std per row, given g = d(loss)/dx̂ (a [rows, cols] array). Written to `dx`.
void NormalizedRowsBackward(std::span<const float> x, const RowStats& stats, std::span<const double> g, int64_t cols,
                            std::span<float> dx);

}  // namespace fovea::engine::ops
