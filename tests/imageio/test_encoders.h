#pragma once
// Independent encoders for the imageio tests: a minimal PNG writer (zlib + hand-built chunks, no libspng, so the
// decoder is checked against bytes it did not produce) and a JPEG writer on libjpeg's compressor.

#include <cstdint>
#include <string>
#include <vector>

namespace fovea::imageio::testing {

// PNG colour types as the specification numbers them.
enum PngColorType : uint8_t { kGray = 0, kRgb = 2, kPalette = 3, kGrayAlpha = 4, kRgba = 6 };

// A PNG to write: `samples` holds width * height * channels values (each < 2^bit_depth), row-major, interleaved.
struct PngSpec {
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t bit_depth = 8;
  PngColorType color_type = kGray;
  std::vector<uint16_t> samples;
  std::vector<uint8_t> palette;  // RGB triples (PLTE), palette images only
  std::vector<uint8_t> trns;     // raw tRNS chunk payload, written when non-empty
  bool interlaced = false;       // Adam7
};

// A spec with the given header fields and no samples, palette or tRNS yet.
PngSpec MakePngSpec(uint32_t width, uint32_t height, uint8_t bit_depth, PngColorType color_type);

// Samples per pixel for a colour type (palette = 1 index).
int ChannelsOf(PngColorType color_type);

// Serializes one chunk: big-endian length, type, data, CRC-32 over type and data.
std::vector<uint8_t> PngChunk(const std::string& type, const std::vector<uint8_t>& data);

// The 13-byte IHDR payload for the given fields (compression and filter method 0).
std::vector<uint8_t> IhdrPayload(uint32_t width, uint32_t height, uint8_t bit_depth, uint8_t color_type,
                                 bool interlaced = false);

// A complete PNG file: signature, IHDR, PLTE/tRNS when given, one zlib-compressed IDAT (filter type 0, Adam7 passes
// when interlaced), IEND.
std::vector<uint8_t> WritePng(const PngSpec& spec);

// Signature + IHDR (valid CRC) + IEND only: a header that claims a size without any pixel data behind it.
std::vector<uint8_t> PngHeaderOnly(uint32_t width, uint32_t height);

// JPEG input colour layout for WriteJpeg.
enum class JpegInput { kGray, kRgb, kCmykAdobe };

// Encodes 8-bit interleaved pixels (1, 3 or 4 channels matching `input`) with libjpeg at `quality` (1..100);
// `progressive` selects libjpeg's standard progressive scan script.
std::vector<uint8_t> WriteJpeg(const std::vector<uint8_t>& pixels, int width, int height, JpegInput input, int quality,
                               bool progressive = false);

}  // namespace fovea::imageio::testing
