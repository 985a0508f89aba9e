#pragma once
// A whole-slide or huge image read region by region through libvips: OpenSlide formats (Aperio SVS, Hamamatsu NDPI,
// MIRAX, ...) through vips' openslideload, pyramidal and plain TIFF, PNG and JPEG through vips' own loaders. Only the
// regions asked for are decoded (a format without random access, such as PNG, is decoded once into vips' disc cache
// when large), so memory stays bounded whatever the image's size. Call InitVips() once before anything else.
//
// Threading: ReadRegion may be called from many threads at once (libvips evaluates a shared image thread-safely).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

typedef struct _VipsImage VipsImage;

namespace fovea::slide {

// Starts libvips (once per process; `argv0` names the program in its messages). INTERNAL when it cannot start.
Status InitVips(const char* argv0);

// A check SlideImage::Open runs on every file before any loader reads it: fovea-slide's opens the file in a child
// process first (slide/openslide_probe.h), since OpenSlide crashes on some corrupt files. None by default (tests,
// the fuzz target, the child itself).
void SetFileCheck(std::function<Status(const std::string& path)> check);

// 8-bit interleaved pixels of one region.
struct Pixels {
  int64_t width = 0, height = 0, bands = 0;
  std::vector<uint8_t> data;  // height × width × bands
};

// Which resolution of a slide to map: a pyramid level as it is, or a scale (relative to level 0, or in microns per
// pixel) read from the nearest finer level and resampled to it when no level has it exactly.
struct Resolution {
  int level = 0;                 // used when neither of the below is set
  double downsample = 0;         // level-0 pixels per mapped pixel (e.g. 4)
  double microns_per_pixel = 0;  // from the slide's own metadata (OpenSlide's mpp, or a TIFF's resolution)
};

class SlideImage {
 public:
  // Opens `path` at `resolution`: OpenSlide's levels for its formats, the pages of a pyramidal TIFF; any other image
  // has only level 0. A downsample or microns-per-pixel is read from the largest level at least as fine, shrunk by
  // libvips (Lanczos) to exactly that scale; the shrunk image is what every region, and the viewer, reads.
  // INVALID_ARGUMENT naming the file for an unreadable image, a level it does not have, a scale finer than level 0,
  // or microns per pixel asked of a slide whose metadata has none.
  static StatusOr<std::unique_ptr<SlideImage>> Open(const std::string& path, const Resolution& resolution);
  ~SlideImage();
  SlideImage(const SlideImage&) = delete;
  SlideImage& operator=(const SlideImage&) = delete;

  int64_t width() const { return width_; }
  int64_t height() const { return height_; }
  int levels() const { return levels_; }
  // Level-0 pixels per pixel of the opened level (1 at level 0), to give results in level-0 coordinates.
  double downsample() const { return downsample_; }
  // The opened level's pyramid index (the level a scale was read from).
  int level() const { return level_; }
  // Microns per pixel of the mapped image, 0 when the slide's metadata does not say.
  double microns_per_pixel() const { return microns_per_pixel_; }
  const std::string& loader() const { return loader_; }  // vips' loader, e.g. "tiffload", "openslideload"
  // The opened level again as 8-bit RGB, for one top-to-bottom pass (the viewer's DeepZoom pyramid): sequential
  // access, so libvips keeps a few strips rather than a random-access tile cache. A new reference, which the caller
  // drops.
  StatusOr<VipsImage*> OpenSequential() const;

  // RGB pixels of [x, x + width) × [y, y + height) at the opened level (alpha flattened onto white). DATA_LOSS naming
  // the file and region when the file is truncated or corrupt there.
  StatusOr<Pixels> ReadRegion(int64_t x, int64_t y, int64_t width, int64_t height) const;

  // The whole image, shrunk so that its longer side is at most `max_side` pixels (from the smallest pyramid level
  // that is large enough), as RGB.
  StatusOr<Pixels> Thumbnail(int64_t max_side) const;

 private:
  SlideImage() = default;
  // Sets level_ and scale_ for `resolution`; `first` is level 0.
  Status ChooseLevel(VipsImage* first, const Resolution& resolution);

  std::string path_;
  std::string loader_;
  VipsImage* rgb_ = nullptr;  // the opened level as 8-bit sRGB, 3 bands (a lazy vips pipeline)
  int64_t width_ = 0, height_ = 0;
  int levels_ = 1;
  int level_ = 0;
  double scale_ = 1.0;  // the resampling applied to the opened level (1: none)
  double downsample_ = 1.0;
  double microns_per_pixel_ = 0;
};

}  // namespace fovea::slide
