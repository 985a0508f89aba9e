#include "slide/openslide_probe.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "slide/slide_image.h"

extern char** environ;

namespace fovea::slide {
namespace {

// The child's address-space limit: opening a slide needs little memory (OpenSlide reads headers and tile indexes),
// libvips' threads some stack; a file that asks for more is refused rather than let it take the machine's memory.
constexpr rlim_t kProbeAddressSpace = rlim_t{4} << 30;

}  // namespace

int RunOpenSlideProbe(const std::string& path) {
  const rlimit limit{kProbeAddressSpace, kProbeAddressSpace};
  setrlimit(RLIMIT_AS, &limit);
  // A clean error here is the parent's to report (it meets the same one): only a crash or an abort is refused. The
  // crashes found so far come from a level's tile geometry, so one small region of each level meets them.
  auto first = SlideImage::Open(path, Resolution{});
  if (!first.ok()) return 0;
  for (int level = 0; level < (*first)->levels(); ++level) {
    auto slide = SlideImage::Open(path, Resolution{.level = level});
    if (!slide.ok()) return 0;
    constexpr int64_t kRegionSide = 64;
    (void)(*slide)->ReadRegion(0, 0, std::min((*slide)->width(), kRegionSide),
                               std::min((*slide)->height(), kRegionSide));
  }
  return 0;
}

Status ProbeOpenSlideInChild(const std::string& program, const std::string& path) {
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  // OpenSlide's and GLib's own messages about a corrupt file would only confuse: the parent says what happened.
  posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&quiet, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), const_cast<char*>(kProbeFlag),
                             const_cast<char*>(path.c_str()), nullptr};
  pid_t child = 0;
  const int spawned = posix_spawn(&child, program.c_str(), &quiet, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (spawned != 0) {
    return Internal("cannot start '" + program + "' to check '" + path + "': " + std::strerror(spawned));
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return Internal("cannot wait for the check of '" + path + "': " + std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return OkStatus();
  const std::string what = WIFSIGNALED(status)
                               ? std::string("OpenSlide crashed reading it (") + strsignal(WTERMSIG(status)) + ")"
                               : "OpenSlide cannot open it";
  return InvalidArgument("'" + path + "': " + what +
                         ": the file is corrupt or not a slide OpenSlide reads; it was refused before being read");
}

}  // namespace fovea::slide
