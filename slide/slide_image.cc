#include "slide/slide_image.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <mutex>

#include "slide/vips_support.h"

namespace fovea::slide {
namespace {

// The loaders fovea slide uses, in the order they are tried: OpenSlide's formats first (an SVS is also a TIFF), then
// TIFF, PNG and JPEG. Only these: libvips would otherwise also try ImageMagick, poppler and more on any file, slower
// and a larger surface for a file that is not a slide at all.
constexpr const char* kLoaders[] = {"openslideload", "tiffload", "pngload", "jpegload"};

// The loader of `path`, or "" when none of kLoaders reads it.
std::string LoaderOf(const std::string& path) {
  for (const char* loader : kLoaders) {
    if (vips_foreign_is_a(loader, path.c_str()) != 0) return loader;
  }
  return "";
}

// The pyramid levels `image` (opened at level 0) says its file holds.
int LevelCount(VipsImage* image, const std::string& loader) {
  if (loader == "openslideload") {
    const char* count = nullptr;
    if (vips_image_get_typeof(image, "openslide.level-count") != 0 &&
        vips_image_get_string(image, "openslide.level-count", &count) == 0 && count != nullptr) {
      return std::max(1, std::atoi(count));
    }
    return 1;
  }
  if (loader == "tiffload") return std::max(1, vips_image_get_n_pages(image));
  return 1;
}

// Opens `path` with exactly `loader` (not whichever libvips would pick) at `level`.
VipsImage* OpenLevel(const std::string& path, const std::string& loader, int level,
                     VipsAccess access = VIPS_ACCESS_RANDOM) {
  VipsImage* image = nullptr;
  const char* file = path.c_str();
  int failed = -1;
  if (loader == "openslideload") {
    failed = vips_openslideload(file, &image, "level", level, "access", access, "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
  } else if (loader == "tiffload") {
    failed = vips_tiffload(file, &image, "page", level, "access", access, "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
  } else if (loader == "pngload") {
    failed = vips_pngload(file, &image, "access", access, "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
  } else if (loader == "jpegload") {
    failed = vips_jpegload(file, &image, "access", access, "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
  }
  return failed == 0 ? image : nullptr;
}

// `in` as 8-bit sRGB with 3 bands: alpha flattened onto white, grey or 16-bit converted. Takes no reference from `in`.
VipsImage* AsRgb(VipsImage* in) {
  VipsRef flat, srgb, eight, three;
  VipsImage* current = in;
  if (vips_image_hasalpha(current) != 0) {
    VipsArrayDouble* white = vips_array_double_newv(1, 255.0);
    const int failed = vips_flatten(current, &flat.image, "background", white, nullptr);
    vips_area_unref(VIPS_AREA(white));
    if (failed != 0) return nullptr;
    current = flat.image;
  }
  if (vips_colourspace(current, &srgb.image, VIPS_INTERPRETATION_sRGB, nullptr) != 0) return nullptr;
  current = srgb.image;
  if (vips_cast_uchar(current, &eight.image, nullptr) != 0) return nullptr;
  current = eight.image;
  if (current->Bands > 3) {
    if (vips_extract_band(current, &three.image, 0, "n", 3, nullptr) != 0) return nullptr;
    current = three.image;
  }
  g_object_ref(current);
  return current;
}

StatusOr<Pixels> ToPixels(VipsImage* image, const std::string& what) {
  size_t size = 0;
  void* memory = vips_image_write_to_memory(image, &size);
  if (memory == nullptr) return DataLoss(what + ": " + TakeVipsError());
  Pixels pixels{vips_image_get_width(image), vips_image_get_height(image), vips_image_get_bands(image), {}};
  pixels.data.assign(static_cast<uint8_t*>(memory), static_cast<uint8_t*>(memory) + size);
  g_free(memory);
  return pixels;
}

// Microns per pixel of level 0 from the slide's metadata: OpenSlide's "openslide.mpp-x", or a TIFF resolution given
// with a unit (libvips' xres is pixels per millimetre); 0 when neither says.
double LevelZeroMicronsPerPixel(VipsImage* image) {
  const char* mpp = nullptr;
  if (vips_image_get_typeof(image, "openslide.mpp-x") != 0 &&
      vips_image_get_string(image, "openslide.mpp-x", &mpp) == 0 && mpp != nullptr && std::atof(mpp) > 0) {
    return std::atof(mpp);
  }
  if (vips_image_get_typeof(image, "resolution-unit") != 0 && vips_image_get_xres(image) > 0) {
    return 1000.0 / vips_image_get_xres(image);
  }
  return 0;
}

// `image` shrunk by `scale` (< 1) with libvips' Lanczos kernel, or `image` itself at scale 1. A new reference.
VipsImage* Rescaled(VipsImage* image, double scale) {
  if (scale == 1.0) {
    g_object_ref(image);
    return image;
  }
  VipsImage* out = nullptr;
  return vips_resize(image, &out, scale, nullptr) == 0 ? out : nullptr;
}

}  // namespace

Status InitVips(const char* argv0) {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [&] { result = vips_init(argv0); });
  if (result != 0) return Internal("libvips did not start: " + TakeVipsError());
  return OkStatus();
}

// The level to read `resolution` from and the resampling it needs: the largest level whose downsample is at most the
// target's (within 0.1%, so a level that has it is read as it is).
Status SlideImage::ChooseLevel(VipsImage* first, const Resolution& resolution) {
  const double width0 = vips_image_get_width(first);
  const double mpp0 = LevelZeroMicronsPerPixel(first);
  double target = 0;
  if (resolution.microns_per_pixel > 0) {
    if (mpp0 <= 0) {
      return InvalidArgument("'" + path_ +
                             "' does not say its microns per pixel (no openslide.mpp-x, no TIFF "
                             "resolution unit); choose a --level or a --downsample instead");
    }
    target = resolution.microns_per_pixel / mpp0;
  } else if (resolution.downsample > 0) {
    target = resolution.downsample;
  }
  microns_per_pixel_ = mpp0;
  if (target == 0) {
    if (resolution.level < 0 || resolution.level >= levels_) {
      return InvalidArgument("'" + path_ + "' has " + std::to_string(levels_) + " pyramid level(s), 0 to " +
                             std::to_string(levels_ - 1) + "; --level " + std::to_string(resolution.level) +
                             " is not one of them");
    }
    level_ = resolution.level;
    return OkStatus();
  }
  constexpr double kSameScale = 1e-3;
  if (target < 1.0 - kSameScale) {
    return InvalidArgument("'" + path_ + "' level 0 is " + std::to_string(mpp0 > 0 ? mpp0 : 1.0) +
                           (mpp0 > 0 ? " microns" : " level-0 pixels") +
                           " per pixel; fovea slide maps at that resolution or coarser, not finer (downsample " +
                           std::to_string(target) + " < 1)");
  }
  level_ = 0;
  double level_downsample = 1.0;
  for (int level = 1; level < levels_; ++level) {
    VipsRef candidate{OpenLevel(path_, loader_, level)};
    if (candidate.image == nullptr)
      return InvalidArgument("'" + path_ + "' level " + std::to_string(level) +
                             " cannot be opened: " + TakeVipsError());
    const double downsample = width0 / vips_image_get_width(candidate.image);
    if (downsample > target * (1.0 + kSameScale)) break;
    level_ = level;
    level_downsample = downsample;
  }
  scale_ = std::abs(level_downsample / target - 1.0) <= kSameScale ? 1.0 : level_downsample / target;
  return OkStatus();
}

std::function<Status(const std::string&)>& FileCheck() {
  static std::function<Status(const std::string&)> check;
  return check;
}

void SetFileCheck(std::function<Status(const std::string& path)> check) { FileCheck() = std::move(check); }

StatusOr<std::unique_ptr<SlideImage>> SlideImage::Open(const std::string& path, const Resolution& resolution) {
  // Before LoaderOf: even telling whether OpenSlide reads a file means parsing its header with OpenSlide.
  if (FileCheck()) FOVEA_RETURN_IF_ERROR(FileCheck()(path));
  const std::string loader = LoaderOf(path);
  if (loader.empty()) {
    vips_error_clear();
    return InvalidArgument("'" + path +
                           "' is not a slide or image fovea slide reads (OpenSlide's formats: SVS, NDPI, "
                           "MIRAX, ...; TIFF, PNG, JPEG), or cannot be opened");
  }
  std::unique_ptr<SlideImage> slide(new SlideImage());
  slide->path_ = path;
  slide->loader_ = loader;
  VipsRef first{OpenLevel(path, loader, 0)};
  if (first.image == nullptr) return InvalidArgument("'" + path + "' cannot be opened: " + TakeVipsError());
  slide->levels_ = LevelCount(first.image, loader);
  FOVEA_RETURN_IF_ERROR(slide->ChooseLevel(first.image, resolution));
  const int level = slide->level_;
  VipsRef opened{level == 0 ? nullptr : OpenLevel(path, loader, level)};
  if (level != 0 && opened.image == nullptr) {
    return InvalidArgument("'" + path + "' level " + std::to_string(level) + " cannot be opened: " + TakeVipsError());
  }
  VipsRef rgb{AsRgb(level == 0 ? first.image : opened.image)};
  if (rgb.image != nullptr) slide->rgb_ = Rescaled(rgb.image, slide->scale_);
  if (slide->rgb_ == nullptr) return InvalidArgument("'" + path + "' cannot be read as RGB: " + TakeVipsError());
  slide->width_ = vips_image_get_width(slide->rgb_);
  slide->height_ = vips_image_get_height(slide->rgb_);
  slide->downsample_ = static_cast<double>(vips_image_get_width(first.image)) / static_cast<double>(slide->width_);
  if (slide->microns_per_pixel_ > 0) slide->microns_per_pixel_ *= slide->downsample_;
  return slide;
}

SlideImage::~SlideImage() {
  if (rgb_ != nullptr) g_object_unref(rgb_);
}

StatusOr<Pixels> SlideImage::ReadRegion(int64_t x, int64_t y, int64_t width, int64_t height) const {
  const std::string what = "'" + path_ + "' level " + std::to_string(level_) + " region " + std::to_string(width) +
                           "x" + std::to_string(height) + " at (" + std::to_string(x) + ", " + std::to_string(y) + ")";
  if (x < 0 || y < 0 || width <= 0 || height <= 0 || x + width > width_ || y + height > height_) {
    return InvalidArgument(what + " is outside the " + std::to_string(width_) + "x" + std::to_string(height_) +
                           " image");
  }
  VipsRef crop;
  if (vips_crop(rgb_, &crop.image, static_cast<int>(x), static_cast<int>(y), static_cast<int>(width),
                static_cast<int>(height), nullptr) != 0) {
    return DataLoss(what + ": " + TakeVipsError());
  }
  return ToPixels(crop.image, what);
}

StatusOr<VipsImage*> SlideImage::OpenSequential() const {
  VipsRef opened{OpenLevel(path_, loader_, level_, VIPS_ACCESS_SEQUENTIAL)};
  VipsRef rgb{opened.image == nullptr ? nullptr : AsRgb(opened.image)};
  VipsImage* scaled = rgb.image == nullptr ? nullptr : Rescaled(rgb.image, scale_);
  if (scaled == nullptr) return DataLoss("'" + path_ + "' cannot be read again: " + TakeVipsError());
  return scaled;
}

StatusOr<Pixels> SlideImage::Thumbnail(int64_t max_side) const {
  // From the smallest pyramid level still at least max_side (level 0 when none is), so a gigapixel slide is not
  // decoded whole for its thumbnail.
  VipsRef source;
  for (int level = levels_ - 1; level >= 0 && source.image == nullptr; --level) {
    VipsRef candidate{OpenLevel(path_, loader_, level)};
    if (candidate.image == nullptr) return DataLoss("'" + path_ + "' thumbnail: " + TakeVipsError());
    if (level == 0 ||
        std::max(vips_image_get_width(candidate.image), vips_image_get_height(candidate.image)) >= max_side) {
      std::swap(source.image, candidate.image);
    }
  }
  VipsRef thumbnail, rgb;
  if (vips_thumbnail_image(source.image, &thumbnail.image, static_cast<int>(max_side), "height",
                           static_cast<int>(max_side), nullptr) != 0) {
    return DataLoss("'" + path_ + "' thumbnail: " + TakeVipsError());
  }
  rgb.image = AsRgb(thumbnail.image);
  if (rgb.image == nullptr) return DataLoss("'" + path_ + "' thumbnail: " + TakeVipsError());
  return ToPixels(rgb.image, "'" + path_ + "' thumbnail");
}

}  // namespace fovea::slide
