#include "trainer/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace fovea::trainer {
namespace {

constexpr double kOneCycleWarmupFraction = 0.3;
constexpr double kOneCycleInitialDivisor = 25.0;
constexpr double kOneCycleFinalDivisor = 1e4;

// Cosine interpolation from `from` (progress 0) to `to` (progress 1).
double CosineBetween(double from, double to, double progress) {
  return to + (from - to) * 0.5 * (1.0 + std::cos(std::numbers::pi * std::clamp(progress, 0.0, 1.0)));
}

}  // namespace

StatusOr<Schedule> Schedule::Create(const ScheduleOptions& options, int64_t total_steps) {
  if (options.kind != "cosine" && options.kind != "onecycle" && options.kind != "constant") {
    return InvalidArgument("unknown schedule '" + options.kind + "' (use cosine, onecycle or constant)");
  }
  if (total_steps < 1) return InvalidArgument("training needs at least one step");
  if (options.peak_lr <= 0.0f) return InvalidArgument("learning rate must be positive");
  return Schedule(options, total_steps);
}

float Schedule::LearningRate(int64_t step) const {
  const double peak = options_.peak_lr;
  const auto t = static_cast<double>(step);
  const auto total = static_cast<double>(total_steps_);
  if (options_.kind == "constant") return options_.peak_lr;
  if (options_.kind == "cosine") {
    const auto warmup = static_cast<double>(options_.warmup_steps);
    if (t < warmup) return static_cast<float>(peak * (t + 1.0) / warmup);
    return static_cast<float>(CosineBetween(peak, 0.0, (t - warmup) / std::max(1.0, total - warmup)));
  }
  const double rise = std::max(1.0, kOneCycleWarmupFraction * total);
  const double initial = peak / kOneCycleInitialDivisor;
  if (t < rise) return static_cast<float>(CosineBetween(initial, peak, t / rise));
  return static_cast<float>(
      CosineBetween(peak, initial / kOneCycleFinalDivisor, (t - rise) / std::max(1.0, total - rise)));
}

}  // namespace fovea::trainer
