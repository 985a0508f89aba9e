#include "client/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace fovea::client {
namespace {
constexpr size_t kBarWidth = 30;
}  // namespace

ProgressBar::ProgressBar(size_t total, bool enabled) : total_(total), enabled_(enabled && total > 0) {}

void ProgressBar::Advance(size_t count) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  done_ += count;
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
  std::fprintf(stderr, "\r[%s] %zu/%zu images, %.1f images/s", bar.c_str(), done_, total_, rate);
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
