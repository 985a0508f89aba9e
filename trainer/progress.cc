#include "trainer/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fovea::trainer {
namespace {

constexpr int kBarWidth = 24;
constexpr auto kRedrawInterval = std::chrono::milliseconds(200);

}  // namespace

std::string FormatDuration(double seconds) {
  const auto total = static_cast<int64_t>(std::lround(seconds));
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%lld:%02lld:%02lld", static_cast<long long>(total / 3600),
                  static_cast<long long>(total / 60 % 60), static_cast<long long>(total % 60));
  } else {
    std::snprintf(text, sizeof(text), "%lld:%02lld", static_cast<long long>(total / 60),
                  static_cast<long long>(total % 60));
  }
  return text;
}

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled && isatty(STDERR_FILENO) != 0) {}

void ProgressLine::StartEpoch(int64_t epoch, int64_t epochs, int64_t batches) {
  epoch_ = epoch;
  epochs_ = epochs;
  batches_ = batches;
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_ - kRedrawInterval;
}

void ProgressLine::Update(int64_t batch, double loss, double accuracy, int64_t images) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval && batch < batches_) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double eta = batch > 0 ? elapsed / static_cast<double>(batch) * static_cast<double>(batches_ - batch) : 0.0;
  const int filled = static_cast<int>(kBarWidth * batch / std::max<int64_t>(batches_, 1));
  std::string bar(static_cast<size_t>(filled), '=');
  if (filled < kBarWidth) bar += '>';
  bar.resize(kBarWidth, '.');
  std::fprintf(stderr, "\rEpoch %lld/%lld %5lld/%lld [%s] loss %.4f acc %.4f %6.0f img/s ETA %s   ",
               static_cast<long long>(epoch_), static_cast<long long>(epochs_), static_cast<long long>(batch),
               static_cast<long long>(batches_), bar.c_str(), loss, accuracy,
               elapsed > 0 ? static_cast<double>(images) / elapsed : 0.0, FormatDuration(eta).c_str());
  std::fflush(stderr);
}

double ProgressLine::FinishEpoch() {
  if (enabled_) std::fprintf(stderr, "\r%*s\r", 110, "");
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

}  // namespace fovea::trainer
