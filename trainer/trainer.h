#pragma once
// The training loop: per epoch, a deterministic shuffle (from the seed and the epoch number), augmented batches,
// forward/backward/optimizer steps on the learning-rate schedule, validation with the inference network, a
// checkpoint, and a progress summary. Resuming from a checkpoint continues with the next epoch exactly.

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "trainer/augment.h"
#include "trainer/dataset.h"
#include "trainer/evaluation.h"
#include "trainer/network.h"
#include "trainer/optimizer.h"
#include "trainer/schedule.h"

namespace fovea::trainer {

struct TrainOptions {
  int64_t epochs = 15;
  int64_t batch_size = 128;
  uint64_t seed = 1;
  float label_smoothing = 0.1f;
  OptimizerOptions optimizer;
  ScheduleOptions schedule;
  AugmentOptions augment;
  Normalization normalization;
  std::string checkpoint_path;  // written after every epoch when not empty
  bool resume = false;          // continue from checkpoint_path
  bool progress = true;         // in-place progress line on a terminal
};

// What one epoch achieved.
struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0.0, train_accuracy = 0.0;
  double validation_loss = 0.0, validation_accuracy = 0.0;  // 0 without a validation set
  double learning_rate = 0.0;                               // at the epoch's end
  double seconds = 0.0;                                     // training time (validation excluded)
  double images_per_second = 0.0;
};

class Trainer {
 public:
  // `network` must outlive the trainer. `validation` may be empty.
  static StatusOr<std::unique_ptr<Trainer>> Create(Network& network, const Dataset& train, const Dataset& validation,
                                                   const TrainOptions& options);

  // Trains the remaining epochs (all of them, or those after the checkpoint when resuming).
  Status Run() { return RunUntil(options_.epochs); }
  // Trains up to and including epoch `last_epoch` (≤ options.epochs; the schedule still spans all epochs).
  Status RunUntil(int64_t last_epoch);

  const std::vector<EpochRecord>& history() const { return history_; }
  // Training wall time over every epoch, including those before a resume (seconds).
  double training_seconds() const;
  // The inference-compiled network sharing the trained parameters (for final evaluation).
  CompiledNetwork& inference_network() { return *inference_; }

 private:
  Trainer(Network& network, const Dataset& train, const Dataset& validation, TrainOptions options)
      : network_(network), train_(train), validation_(validation), options_(std::move(options)) {}
  EpochRecord TrainEpoch(int64_t epoch, class ProgressLine& progress);
  int64_t steps_per_epoch() const { return train_.size() / options_.batch_size; }

  Network& network_;
  const Dataset& train_;
  const Dataset& validation_;
  TrainOptions options_;
  std::unique_ptr<CompiledNetwork> training_, inference_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<Schedule> schedule_;
  std::vector<EpochRecord> history_;
};

}  // namespace fovea::trainer
