#pragma once
// Builds PNG files byte by byte (zlib for the compression and CRCs) so tests control bit depth, color type,
// truncation and header fields exactly, including files no ordinary encoder would write.

#include <cstdint>
#include <functional>
#include <string>

namespace fovea::testing {

// PNG color types (PNG spec, IHDR).
enum class PngColor : uint8_t { kGray = 0, kRgb = 2, kPalette = 3, kGrayAlpha = 4, kRgba = 6 };

// Sample value of channel `c` of pixel (x, y); must fit the bit depth. For kPalette it is the palette index into a
// 256-entry gray ramp (index i is gray level i).
using SampleFn = std::function<uint16_t(uint32_t x, uint32_t y, uint32_t c)>;

// A complete PNG of 8- or 16-bit samples.
std::string MakePng(uint32_t width, uint32_t height, int bit_depth, PngColor color, const SampleFn& sample);

// An 8-bit gray PNG whose IHDR claims width x height but whose image data is a few bytes: a decoder that allocates
// from the header before checking limits would try to allocate width * height bytes.
std::string MakePngWithHugeHeader(uint32_t width, uint32_t height);

// Channels of a color type (1, 3, 1, 2, 4).
uint32_t PngChannels(PngColor color);

}  // namespace fovea::testing
