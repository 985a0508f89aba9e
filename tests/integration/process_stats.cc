#include "tests/integration/process_stats.h"

#include <filesystem>
#include <fstream>
#include <string>

namespace fovea::testing {
namespace {

// The number after "`key`:" in /proc/<pid>/status, or -1.
int64_t StatusField(const std::string& status_path, const std::string& key) {
  std::ifstream status(status_path);
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with(key + ":")) return std::stoll(line.substr(key.size() + 1));
  }
  return -1;
}

}  // namespace

ProcessStats ReadProcessStats(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  ProcessStats stats;
  stats.rss_kib = StatusField(proc + "/status", "VmRSS");
  stats.threads = StatusField(proc + "/status", "Threads");
  std::error_code error;
  std::filesystem::directory_iterator fds(proc + "/fd", error);
  if (!error) {
    stats.open_fds = 0;
    for (auto it = fds; it != std::filesystem::directory_iterator(); it.increment(error)) ++stats.open_fds;
  }
  return stats;
}

}  // namespace fovea::testing
