#pragma once
// A one-line progress bar on stderr ("[#####-----] 120/400 images, 85.2 images/s, 3.1 MP/s, ETA 1m20s"), drawn only
// when stderr is a terminal so that logs and pipes stay clean.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace fovea::client {

class ProgressBar {
 public:
  // `enabled` false makes every call a no-op (use StderrIsTerminal()). `unit` names the items ("images", "tiles").
  ProgressBar(size_t total, bool enabled, std::string unit = "images");

  // Records `count` more finished items (and the megapixels they covered, shown as a rate when any are reported) and
  // redraws at most every kRedrawInterval. Thread-safe.
  void Advance(size_t count, double megapixels = 0.0);

  // Erases the bar so the summary starts on a clean line.
  void Finish();

 private:
  void Draw();

  static constexpr std::chrono::milliseconds kRedrawInterval{100};
  const size_t total_;
  const bool enabled_;
  const std::string unit_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  size_t done_ = 0;
  double megapixels_ = 0.0;
  std::chrono::steady_clock::time_point last_draw_{};
};

// True when stderr is attached to a terminal.
bool StderrIsTerminal();

}  // namespace fovea::client
