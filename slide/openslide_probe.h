#pragma once
// OpenSlide 3.4.1 (Debian 12) crashes on some corrupt files while opening them, or asks for gigabytes: a negative-size
// memset, a negative-size allocation that GLib aborts on, a 3.7 GB malloc (tests/fuzz/openslide-crashes/, found by
// slide_read_fuzz). No check Fovea could make first would know every such file, so fovea-slide opens a file that
// OpenSlide would read in a child process first: itself, re-executed with kProbeFlag and a memory limit. A child that
// dies or fails means the file is refused with a clear error, and this process never hands it to OpenSlide.
// (A fork() of this process is not used: libvips' worker threads may hold locks the child would then wait on forever.)

#include <string>

#include "common/status.h"

namespace fovea::slide {

inline constexpr char kProbeFlag[] = "--probe-openslide";

// The child's side: opens every pyramid level of `path` under a memory limit and reads a small region of each. Returns
// the process exit status, 0: a file it cannot read is the parent's to report; a crash is what the probe is for.
int RunOpenSlideProbe(const std::string& path);

// The parent's side: runs `program kProbeFlag path` (program: this executable) and waits for it. OK when it exits 0;
// INVALID_ARGUMENT naming the file and what happened (the signal that killed it) otherwise.
Status ProbeOpenSlideInChild(const std::string& program, const std::string& path);

}  // namespace fovea::slide
