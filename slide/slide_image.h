#pragma once
// A whole-slide or huge image read region by region through libvips: OpenSlide formats (Aperio SVS, Hamamatsu NDPI,
// MIRAX, ...) through vips' openslideload, pyramidal and plain TIFF, PNG and JPEG through vips' own loaders. Only the
// regions asked for are decoded (a format without random access, such as PNG, is decoded once into vips' disc cache
// when large), so memory stays bounded whatever the image's size. Call InitVips() once before anything else.
//
// Threading: ReadRegion may be called from many threads at once (libvips evaluates a shared image thread-safely).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

typedef struct _VipsImage VipsImage;

namespace fovea::slide {

// Starts libvips (once per process; `argv0` names the program in its messages). INTERNAL when it cannot start.
Status InitVips(const char* argv0);

// 8-bit interleaved pixels of one region.
struct Pixels {
  int64_t width = 0, height = 0, bands = 0;
  std::vector<uint8_t> data;  // height × width × bands
};

class SlideImage {
 public:
  // Opens `path` at pyramid `level` (0 = full resolution): OpenSlide's levels for its formats, the pages of a
  // pyramidal TIFF; any other image has only level 0. INVALID_ARGUMENT naming the file for an unreadable image or a
  // level it does not have.
  static StatusOr<std::unique_ptr<SlideImage>> Open(const std::string& path, int level);
  ~SlideImage();
  SlideImage(const SlideImage&) = delete;
  SlideImage& operator=(const SlideImage&) = delete;

  int64_t width() const { return width_; }
  int64_t height() const { return height_; }
  int levels() const { return levels_; }
  // Level-0 pixels per pixel of the opened level (1 at level 0), to give results in level-0 coordinates.
  double downsample() const { return downsample_; }
  const std::string& loader() const { return loader_; }
  // The opened level again as 8-bit RGB, for one top-to-bottom pass (the viewer's DeepZoom pyramid): sequential
  // access, so libvips keeps a few strips rather than a random-access tile cache. A new reference, which the caller
  // drops.
  StatusOr<VipsImage*> OpenSequential() const;  // vips' loader, e.g. "tiffload", "openslideload"

  // RGB pixels of [x, x + width) × [y, y + height) at the opened level (alpha flattened onto white). DATA_LOSS naming
  // the file and region when the file is truncated or corrupt there.
  StatusOr<Pixels> ReadRegion(int64_t x, int64_t y, int64_t width, int64_t height) const;

  // The whole image, shrunk so that its longer side is at most `max_side` pixels (from the smallest pyramid level
  // that is large enough), as RGB.
  StatusOr<Pixels> Thumbnail(int64_t max_side) const;

 private:
  SlideImage() = default;

  std::string path_;
  std::string loader_;
  VipsImage* rgb_ = nullptr;  // the opened level as 8-bit sRGB, 3 bands (a lazy vips pipeline)
  int64_t width_ = 0, height_ = 0;
  int levels_ = 1;
  int level_ = 0;
  double downsample_ = 1.0;
};

}  // namespace fovea::slide
