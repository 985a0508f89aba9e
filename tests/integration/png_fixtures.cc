#include "tests/integration/png_fixtures.h"

#include <zlib.h>

#include <stdexcept>

namespace fovea::testing {
namespace {

constexpr char kSignature[] = "\x89PNG\r\n\x1a\n";
constexpr size_t kSignatureBytes = 8;
constexpr int kPaletteEntries = 256;

void AppendBigEndian32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xFF));
}

void AppendChunk(std::string& png, const char* type, const std::string& data) {
  AppendBigEndian32(png, static_cast<uint32_t>(data.size()));
  const std::string body = std::string(type, 4) + data;
  png += body;
  AppendBigEndian32(png, static_cast<uint32_t>(
                             crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
}

std::string Header(uint32_t width, uint32_t height, int bit_depth, PngColor color) {
  std::string ihdr;
  AppendBigEndian32(ihdr, width);
  AppendBigEndian32(ihdr, height);
  ihdr.push_back(static_cast<char>(bit_depth));
  ihdr.push_back(static_cast<char>(color));
  ihdr.append(3, '\0');  // deflate, adaptive filtering, no interlace
  std::string png(kSignature, kSignatureBytes);
  AppendChunk(png, "IHDR", ihdr);
  return png;
}

std::string Deflate(const std::string& raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string out(size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(out.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), Z_BEST_SPEED) != Z_OK) {
    throw std::runtime_error("zlib compress2 failed");
  }
  out.resize(size);
  return out;
}

}  // namespace

uint32_t PngChannels(PngColor color) {
  switch (color) {
    case PngColor::kGray:
      return 1;
    case PngColor::kRgb:
      return 3;
    case PngColor::kPalette:
      return 1;
    case PngColor::kGrayAlpha:
      return 2;
    case PngColor::kRgba:
      return 4;
  }
  return 0;
}

std::string MakePng(uint32_t width, uint32_t height, int bit_depth, PngColor color, const SampleFn& sample) {
  std::string png = Header(width, height, bit_depth, color);
  if (color == PngColor::kPalette) {
    std::string palette;
    for (int i = 0; i < kPaletteEntries; ++i) palette.append(3, static_cast<char>(i));
    AppendChunk(png, "PLTE", palette);
  }
  const uint32_t channels = PngChannels(color);
  std::string raw;
  for (uint32_t y = 0; y < height; ++y) {
    raw.push_back('\0');  // filter type None
    for (uint32_t x = 0; x < width; ++x) {
      for (uint32_t c = 0; c < channels; ++c) {
        const uint16_t value = sample(x, y, c);
        if (bit_depth == 16) raw.push_back(static_cast<char>(value >> 8));
        raw.push_back(static_cast<char>(value & 0xFF));
      }
    }
  }
  AppendChunk(png, "IDAT", Deflate(raw));
  AppendChunk(png, "IEND", "");
  return png;
}

std::string MakePngWithHugeHeader(uint32_t width, uint32_t height) {
  std::string png = Header(width, height, 8, PngColor::kGray);
  AppendChunk(png, "IDAT", Deflate(std::string(16, '\0')));
  AppendChunk(png, "IEND", "");
  return png;
}

}  // namespace fovea::testing
