// Format sniffing, size limits and dispatch to the PNG or JPEG decoder.

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>

#include "imageio/decode_internal.h"
#include "imageio/image.h"

namespace fovea::imageio {
namespace {

constexpr std::array<uint8_t, 8> kPngSignature = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr std::array<uint8_t, 3> kJpegSignature = {0xFF, 0xD8, 0xFF};  // SOI followed by the first marker's 0xFF
constexpr size_t kBytesShownInError = 8;

bool StartsWith(std::span<const uint8_t> bytes, std::span<const uint8_t> prefix) {
  return bytes.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), bytes.begin());
}

// "89 50 4e 47" style dump of the first bytes, so a client can see what it actually sent.
std::string HexPrefix(std::span<const uint8_t> bytes) {
  std::string out;
  const size_t shown = std::min(bytes.size(), kBytesShownInError);
  for (size_t i = 0; i < shown; ++i) {
    char hex[4];
    std::snprintf(hex, sizeof(hex), "%02x", bytes[i]);
    if (!out.empty()) out += ' ';
    out += hex;
  }
  return out;
}

// Human-readable pixel count with an SI prefix: "3.6 Gpixel", "67.1 Mpixel".
std::string FormatPixels(int64_t pixels) {
  struct Unit {
    double scale;
    const char* name;
  };
  constexpr std::array<Unit, 3> kUnits = {{{1e9, "Gpixel"}, {1e6, "Mpixel"}, {1e3, "kpixel"}}};
  char text[64];
  for (const Unit& unit : kUnits) {
    if (static_cast<double>(pixels) >= unit.scale) {
      std::snprintf(text, sizeof(text), "%.1f %s", static_cast<double>(pixels) / unit.scale, unit.name);
      return text;
    }
  }
  std::snprintf(text, sizeof(text), "%lld pixel", static_cast<long long>(pixels));
  return text;
}

}  // namespace

namespace internal {

Status CheckDimensions(const char* format_name, int64_t width, int64_t height, const DecodeLimits& limits) {
  // The message is only built for an image that fails: this runs for every decoded image.
  const auto claim = [&] {
    return std::string(format_name) + " header claims " + std::to_string(width) + "x" + std::to_string(height);
  };
  if (width <= 0 || height <= 0) return InvalidArgument(claim() + ": an image needs a non-zero width and height");
  const int64_t pixels = width * height;  // both come from 32-bit header fields, so the product fits in int64
  const auto sized_claim = [&] { return claim() + " = " + FormatPixels(pixels); };
  if (pixels > limits.max_pixels) {
    return ResourceExhausted(sized_claim() + ", above the limit of " + FormatPixels(limits.max_pixels));
  }
  if (width > limits.max_width) {
    return ResourceExhausted(sized_claim() + ": width above the limit of " + std::to_string(limits.max_width));
  }
  if (height > limits.max_height) {
    return ResourceExhausted(sized_claim() + ": height above the limit of " + std::to_string(limits.max_height));
  }
  return OkStatus();
}

}  // namespace internal

ImageFormat DetectFormat(std::span<const uint8_t> bytes) {
  if (StartsWith(bytes, kPngSignature)) return ImageFormat::kPng;
  if (StartsWith(bytes, kJpegSignature)) return ImageFormat::kJpeg;
  return ImageFormat::kUnknown;
}

StatusOr<Image> Decode(std::span<const uint8_t> bytes, const DecodeLimits& limits) {
  if (bytes.empty()) return InvalidArgument("empty image: 0 bytes");
  if (bytes.size() > limits.max_encoded_bytes) {
    return ResourceExhausted("encoded image is " + std::to_string(bytes.size()) + " bytes, above the limit of " +
                             std::to_string(limits.max_encoded_bytes));
  }
  switch (DetectFormat(bytes)) {
    case ImageFormat::kPng:
      return internal::DecodePng(bytes, limits);
    case ImageFormat::kJpeg:
      return internal::DecodeJpeg(bytes, limits);
    case ImageFormat::kUnknown:
      break;
  }
  return InvalidArgument("not a PNG or JPEG image (first bytes " + HexPrefix(bytes) + ", " +
                         std::to_string(bytes.size()) + " bytes in all)");
}

}  // namespace fovea::imageio
