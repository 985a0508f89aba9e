#pragma once
// Learning-rate schedules as a function of the global step: cosine decay after a linear warm-up, or one-cycle
// (warm up from peak/25 to the peak over 30% of training, then cosine down to peak/1e4), as PyTorch's OneCycleLR.

#include <cstdint>
#include <string>

#include "common/status.h"

namespace fovea::trainer {

struct ScheduleOptions {
  std::string kind = "onecycle";  // "cosine", "onecycle" or "constant"
  float peak_lr = 0.1f;
  int64_t warmup_steps = 0;  // cosine only
};

class Schedule {
 public:
  static StatusOr<Schedule> Create(const ScheduleOptions& options, int64_t total_steps);
  // Learning rate for step `step` (0-based) of total_steps.
  float LearningRate(int64_t step) const;

 private:
  Schedule(ScheduleOptions options, int64_t total_steps) : options_(std::move(options)), total_steps_(total_steps) {}
  ScheduleOptions options_;
  int64_t total_steps_;
};

}  // namespace fovea::trainer
