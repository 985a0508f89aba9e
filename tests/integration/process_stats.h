#pragma once
// Reads a running process's resident memory, open file descriptors and thread count from /proc (Linux only), for
// the reliability tests that check the server does not grow under faults.

#include <sys/types.h>

#include <cstdint>

namespace fovea::testing {

struct ProcessStats {
  int64_t rss_kib = -1;  // VmRSS
  int64_t open_fds = -1;
  int64_t threads = -1;
};

// The current figures of `pid`; fields stay -1 when /proc cannot be read (the process is gone).
ProcessStats ReadProcessStats(pid_t pid);

}  // namespace fovea::testing
