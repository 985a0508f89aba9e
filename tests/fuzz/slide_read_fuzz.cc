// libFuzzer target: arbitrary bytes as a slide file through fovea slide's reading path (slide/slide_image.h): the
// loader libvips picks (tiffload, openslideload for OpenSlide's formats, pngload, jpegload, ...), every pyramid level,
// a region at each corner and the thumbnail the tissue mask is made from. Any outcome is fine except a crash, a
// sanitizer report, a leak or a hang: a truncated or corrupt slide must come back as an error.

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include <vips/vips.h>

#include "slide/slide_image.h"

namespace {

// Above this many pixels a level is only opened, not read: a header may announce a gigapixel image whose thumbnail
// (of a format without a pyramid) would decode all of it.
constexpr int64_t kReadablePixels = int64_t{1} << 20;
constexpr int64_t kRegionSide = 64;
constexpr int kMaxLevels = 4;

std::string ScratchFile() {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/fovea-slide-fuzz-" + std::to_string(getpid());
}

// Opens and reads one level; returns the file's level count (0 when it does not open).
int ReadLevel(const std::string& path, int level) {
  auto slide = fovea::slide::SlideImage::Open(path, {.level = level});
  if (!slide.ok()) return 0;
  const int64_t width = (*slide)->width(), height = (*slide)->height();
  if (width * height > kReadablePixels) return (*slide)->levels();
  const int64_t w = std::min(width, kRegionSide), h = std::min(height, kRegionSide);
  (void)(*slide)->ReadRegion(0, 0, w, h);
  (void)(*slide)->ReadRegion(width - w, height - h, w, h);
  if (level == 0) (void)(*slide)->Thumbnail(32);
  return (*slide)->levels();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** argv) {
  if (!fovea::slide::InitVips((*argv)[0]).ok()) return 1;
  // No operation cache (it would hold images across inputs and look like growth) and one worker thread.
  vips_cache_set_max(0);
  vips_concurrency_set(1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = ScratchFile();
  {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const int levels = ReadLevel(path, 0);
  for (int level = 1; level < std::min(levels, kMaxLevels); ++level) ReadLevel(path, level);
  unlink(path.c_str());
  return 0;
}
