#include "engine/ops/mvn.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/ops/reduce_axes.h"

namespace fovea::engine::ops {
namespace {

// ONNX's MeanVarianceNormalization adds this to the standard deviation (not the variance).
constexpr double kEpsilon = 1e-9;

// Per-group mean and standard deviation of `x` grouped by `index` (ReducedIndex).
struct GroupStats {
  std::vector<double> mean, std_dev;
  int64_t count = 0;
};

GroupStats ComputeStats(std::span<const float> x, const std::vector<int64_t>& index, int64_t groups) {
  GroupStats stats;
  stats.mean.assign(static_cast<size_t>(groups), 0.0);
  stats.std_dev.assign(static_cast<size_t>(groups), 0.0);
  std::vector<double> squares(static_cast<size_t>(groups), 0.0);
  stats.count = groups == 0 ? 0 : static_cast<int64_t>(x.size()) / groups;
  for (size_t i = 0; i < x.size(); ++i) {
    stats.mean[index[i]] += x[i];
    squares[index[i]] += static_cast<double>(x[i]) * x[i];
  }
  for (size_t g = 0; g < stats.mean.size(); ++g) {
    stats.mean[g] /= static_cast<double>(stats.count);
    // E[x²] − E[x]², as ONNX defines it; rounding can make it slightly negative for constant groups.
    const double variance = squares[g] / static_cast<double>(stats.count) - stats.mean[g] * stats.mean[g];
    stats.std_dev[g] = std::sqrt(std::max(variance, 0.0));
  }
  return stats;
}

// The one MVN loop, used by Reference and by the plan's host step.
Status MvnLoop(const std::vector<int64_t>& axis_param, const Tensor& x, Tensor& y) {
  FOVEA_ASSIGN_OR_RETURN(auto axes, NormalizeAxes(axis_param, x.rank()));
  const std::vector<int64_t> index = ReducedIndex(x.shape(), axes);
  const GroupStats stats = ComputeStats(x.floats(), index, NumElements(KeepDimsShape(x.shape(), axes)));
  const auto xs = x.floats();
  auto ys = y.floats();
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto g = static_cast<size_t>(index[i]);
    ys[i] = static_cast<float>((xs[i] - stats.mean[g]) / (stats.std_dev[g] + kEpsilon));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Mvn>> Mvn::Create(const MvnParams& params) { return std::unique_ptr<Mvn>(new Mvn(params)); }

StatusOr<std::vector<Tensor>> Mvn::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data() || inputs[0].dtype() != DataType::kFloat32) {
    return InvalidArgument("MeanVarianceNormalization needs float32 X");
  }
  Tensor y(DataType::kFloat32, inputs[0].shape());
  FOVEA_RETURN_IF_ERROR(MvnLoop(params_.axes, inputs[0], y));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Mvn::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present() || inputs[0].dtype != DataType::kFloat32) {
    return InvalidArgument("MeanVarianceNormalization needs float32 X");
  }
  FOVEA_RETURN_IF_ERROR(NormalizeAxes(params_.axes, static_cast<int64_t>(inputs[0].shape.size())).status());
  HostKernel kernel = [axes = params_.axes](std::span<const Tensor> in, std::span<Tensor> out) {
    return MvnLoop(axes, in[0], out[0]);
  };
  return builder.AddHostStep(std::move(kernel), inputs.first(1), {inputs[0].shape}, {DataType::kFloat32});
}

StatusOr<std::vector<Tensor>> Mvn::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                            std::span<const Tensor> output_grads,
                                            std::span<const bool> /*needed*/) const {
  if (inputs.empty() || !inputs[0].has_data() || output_grads.empty()) {
    return InvalidArgument("MeanVarianceNormalization backward needs X and the gradient of Y");
  }
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(auto axes, NormalizeAxes(params_.axes, x.rank()));
  const std::vector<int64_t> index = ReducedIndex(x.shape(), axes);
  const auto groups = static_cast<size_t>(NumElements(KeepDimsShape(x.shape(), axes)));
  const auto xs = x.floats();
  const auto dy = output_grads[0].floats();
  const GroupStats stats = ComputeStats(xs, index, static_cast<int64_t>(groups));
  // y = d/(s + ε) with d = x − mean and s = sqrt(mean(d²)), so
  // dx_j = (dy_j − mean(dy))/(s + ε) − Σ(dy·d)·d_j / (n·s·(s + ε)²).
  std::vector<double> dy_sum(groups, 0.0), dy_d_sum(groups, 0.0);
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto g = static_cast<size_t>(index[i]);
    dy_sum[g] += dy[i];
    dy_d_sum[g] += dy[i] * (xs[i] - stats.mean[g]);
  }
  const auto n = static_cast<double>(stats.count);
  Tensor dx(DataType::kFloat32, x.shape());
  auto dxs = dx.floats();
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto g = static_cast<size_t>(index[i]);
    const double s = stats.std_dev[g];
    const double denominator = s + kEpsilon;
    const double through_std =
        s > 0.0 ? dy_d_sum[g] * (xs[i] - stats.mean[g]) / (n * s * denominator * denominator) : 0.0;
    dxs[i] = static_cast<float>((dy[i] - dy_sum[g] / n) / denominator - through_std);
  }
  return std::vector<Tensor>{dx};
}

}  // namespace fovea::engine::ops
