#include "client/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <utility>

namespace fovea::client {
namespace {
constexpr size_t kBarWidth = 30;

std::string Fixed(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f", value);
  return text;
}

// "45s", "12m05s", "3h20m".
std::string Duration(double seconds) {
  const auto total = static_cast<long long>(seconds + 0.5);
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof(text), "%llds", total);
  } else if (total < 3600) {
    std::snprintf(text, sizeof(text), "%lldm%02llds", total / 60, total % 60);
  } else {
    std::snprintf(text, sizeof(text), "%lldh%02lldm", total / 3600, total % 3600 / 60);
  }
  return text;
}

}  // namespace

ProgressBar::ProgressBar(size_t total, bool enabled, std::string unit)
    : total_(total), enabled_(enabled && total > 0), unit_(std::move(unit)) {}

void ProgressBar::Advance(size_t count, double megapixels) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  done_ += count;
  megapixels_ += megapixels;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval && done_ < total_) return;
  last_draw_ = now;
  Draw();
}

void ProgressBar::Draw() {
  const size_t filled = total_ == 0 ? kBarWidth : done_ * kBarWidth / total_;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done_) / seconds : 0.0;
  const std::string bar = std::string(filled, '#') + std::string(kBarWidth - filled, '-');
  std::string line = "\r[" + bar + "] " + std::to_string(done_) + "/" + std::to_string(total_) + " " + unit_ + ", " +
                     Fixed(rate) + " " + unit_ + "/s";
  if (megapixels_ > 0 && seconds > 0) line += ", " + Fixed(megapixels_ / seconds) + " MP/s";
  if (rate > 0 && done_ < total_) line += ", ETA " + Duration(static_cast<double>(total_ - done_) / rate);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressBar::Finish() {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  // "\033[2K" clears the whole line on ANSI terminals.
  std::fputs("\r\033[2K", stderr);
  std::fflush(stderr);
}

bool StderrIsTerminal() { return isatty(STDERR_FILENO) == 1; }

}  // namespace fovea::client
