#pragma once
// Keras-like progress on stderr: while an epoch runs, one line redrawn in place (batches, loss, accuracy,
// throughput, ETA) when stderr is a terminal; a summary line per epoch through spdlog in every case.

#include <chrono>
#include <cstdint>
#include <string>

namespace fovea::trainer {

class ProgressLine {
 public:
  // `enabled` = false never draws the in-place line (only summaries are logged).
  explicit ProgressLine(bool enabled);

  void StartEpoch(int64_t epoch, int64_t epochs, int64_t batches);
  // After batch `batch` (1-based): running mean loss and accuracy over the epoch, images seen so far.
  void Update(int64_t batch, double loss, double accuracy, int64_t images);
  // Clears the in-place line and returns the epoch's wall time in seconds.
  double FinishEpoch();

 private:
  bool enabled_;
  int64_t epoch_ = 0, epochs_ = 0, batches_ = 0;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// "1:05" / "1:02:03" for a duration in seconds.
std::string FormatDuration(double seconds);

}  // namespace fovea::trainer
