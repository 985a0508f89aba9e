#pragma once
// Images in memory: 8-bit interleaved pixels (HWC), 1 (gray), 3 (RGB) or 4 (RGBA) channels. What decoders produce,
// what the resizer and overlay renderer work on, and what the PNG encoder writes.

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/status.h"

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
// checked against `limits` from the header, before decoding. Errors name the problem (truncated, not an image,
// too large: with the numbers).
StatusOr<Image> Decode(std::span<const uint8_t> bytes, const DecodeLimits& limits = {});

// Converts to `channels` (1, 3 or 4): gray↔RGB by ITU-R BT.601 luma, alpha composited over black when dropped.
Image ConvertChannels(const Image& image, int64_t channels);

// Bilinear resize (half-pixel centers, as OpenCV's INTER_LINEAR and PIL for upscaling).
Image Resize(const Image& image, int64_t width, int64_t height);

// Writes `image` as planar float32 CHW into `dst` (channels * height * width floats): pixel / 255, then
// (x - mean[c]) / std[c] when mean/std are given (one entry per channel).
void ToPlanarFloat(const Image& image, std::span<const float> mean, std::span<const float> std, float* dst);

// Encodes an 8-bit image as PNG.
StatusOr<std::string> EncodePng(const Image& image);

}  // namespace fovea::imageio
