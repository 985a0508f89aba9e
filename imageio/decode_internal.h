#pragma once
// Pieces shared by the PNG and JPEG decoders; not part of imageio's public API.

#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"
#include "imageio/image.h"

namespace fovea::imageio::internal {

// Returns OK when a `format_name` image of width x height fits `limits`, else InvalidArgument naming the size and
// limit.
Status CheckDimensions(const char* format_name, int64_t width, int64_t height, const DecodeLimits& limits);

// Decodes a PNG whose signature has already been recognized.
StatusOr<Image> DecodePng(std::span<const uint8_t> bytes, const DecodeLimits& limits);

// Decodes a JPEG whose signature has already been recognized.
StatusOr<Image> DecodeJpeg(std::span<const uint8_t> bytes, const DecodeLimits& limits);

}  // namespace fovea::imageio::internal
