#pragma once
// Images in memory: 8-bit interleaved pixels (HWC), 1 (gray), 3 (RGB) or 4 (RGBA) channels. What decoders produce,
// what the resizer and overlay renderer work on, and what the PNG encoder writes.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace fovea::imageio {

struct Image {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;         // 1, 3 or 4
  std::vector<uint8_t> pixels;  // height * width * channels, row-major, interleaved

  uint8_t* row(int64_t y) { return pixels.data() + y * width * channels; }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * width * channels; }
};

// Checked before any pixel buffer is allocated.
struct DecodeLimits {
  size_t max_encoded_bytes = size_t{64} << 20;  // 64 MiB
  int64_t max_width = 16384;
  int64_t max_height = 16384;
  int64_t max_pixels = int64_t{64} << 20;  // 64 Mpixel
};

enum class ImageFormat { kUnknown, kPng, kJpeg };

// Sniffs the format from the magic bytes.
ImageFormat DetectFormat(std::span<const uint8_t> bytes);

// Decodes PNG (8/16-bit, gray, gray+alpha, RGB, RGBA, palette) or JPEG (gray, RGB, CMYK) into 8-bit pixels with
// 1, 3 or 4 channels. 16-bit samples are scaled to 8 bits; gray+alpha becomes RGBA. Dimensions and byte size are
// checked against `limits` from the header, before decoding. Errors are InvalidArgument and name the problem
// (truncated, corrupt, not an image, too large: with the numbers). Gamma and colour profiles are not applied; JPEG
// EXIF orientation is not applied; corrupt-data warnings inside a JPEG's entropy data are tolerated, a JPEG that ends
// early is an error.
StatusOr<Image> Decode(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

// Converts to `channels` (1, 3 or 4; 2 = gray+alpha also works): gray↔RGB by ITU-R BT.601 luma, alpha composited
// over black when dropped, alpha 255 when added. Returns an empty image when either channel count is outside 1..4.
Image ConvertChannels(const Image& image, int64_t channels);

// ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B), rounded: the gray value ConvertChannels produces.
uint8_t LumaBt601(uint8_t red, uint8_t green, uint8_t blue);

// Resizes to width x height, each axis on its own. Enlarging, or shrinking by less than 2x: bilinear with half-pixel
// centers and edge clamping (within one level of OpenCV's INTER_LINEAR). Shrinking by 2x or more: area averaging (each
// output pixel is the overlap-weighted mean of the source pixels it covers, like OpenCV's INTER_AREA), because bilinear
// would skip source pixels and alias; at exactly 2x both give the same result. Rounds to nearest. Returns an empty
// image when a requested or source dimension is not positive.
Image Resize(const Image& image, int64_t width, int64_t height);

// Resizes to width x height like PIL's BILINEAR filter (what torchvision's Resize does to a PIL image): a triangle
// filter whose support widens with the shrink factor, so shrinking by any factor averages every source pixel
// (antialiasing); rows first, rounded to 8 bits, then columns, in 22-bit fixed point. Returns an empty image when a
// requested or source dimension is not positive.
Image ResizeTriangle(const Image& image, int64_t width, int64_t height);

// The centre width x height window, as torchvision's CenterCrop takes it: the offset is (source - size) / 2 rounded
// half to even; a side shorter than the window is padded with zeros on both sides. Returns an empty image when a
// requested dimension is not positive.
Image CropCenter(const Image& image, int64_t width, int64_t height);

// Swaps the first and third channels of a 3- or 4-channel image in place (RGB ↔ BGR); others are left as they are.
void SwapRedBlue(Image& image);

// Writes `image` as interleaved float32 HWC into `dst` (channels * height * width floats), normalized like
// ToPlanarFloat: the input of an NHWC model.
void ToInterleavedFloat(const Image& image, std::span<const float> mean, std::span<const float> std, float* dst);

// Writes `image` as planar float32 CHW into `dst` (caller-owned, channels * height * width floats): pixel / 255, then
// (x - mean[c]) / std[c]. mean and std may be empty; a channel without an entry uses mean 0 and std 1.
void ToPlanarFloat(const Image& image, std::span<const float> mean, std::span<const float> std, float* dst);

// Encodes an 8-bit image (1 to 4 channels) as PNG; InvalidArgument when the pixel buffer does not match the size.
StatusOr<std::string> EncodePng(const Image& image);

}  // namespace fovea::imageio
