// Test-only PNG and JPEG writers; see test_encoders.h.

#include "tests/imageio/test_encoders.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>  // jpeglib.h needs FILE declared first
#include <cstdlib>
#include <span>
#include <stdexcept>

#include <jpeglib.h>

namespace fovea::imageio::testing {
namespace {

constexpr uint8_t kPngSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
constexpr uint8_t kFilterNone = 0;

void WriteBigEndian32(uint8_t* out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) *out++ = static_cast<uint8_t>(value >> shift);
}

void AppendBigEndian32(std::vector<uint8_t>& out, uint32_t value) {
  uint8_t bytes[4];
  WriteBigEndian32(bytes, value);
  out.insert(out.end(), bytes, bytes + 4);
}

// Packs one row of samples at the PNG bit depth: MSB-first bit packing below 8 bits, big-endian at 16.
std::vector<uint8_t> PackRow(int bit_depth, const std::vector<uint16_t>& samples) {
  std::vector<uint8_t> row;
  if (bit_depth == 16) {
    for (const uint16_t sample : samples) {
      row.push_back(static_cast<uint8_t>(sample >> 8));
      row.push_back(static_cast<uint8_t>(sample & 0xFF));
    }
    return row;
  }
  const size_t per_byte = 8 / bit_depth;
  row.assign((samples.size() + per_byte - 1) / per_byte, 0);
  for (size_t i = 0; i < samples.size(); ++i) {
    const auto shift = static_cast<int>(8 - bit_depth * (1 + i % per_byte));
    row[i / per_byte] |= static_cast<uint8_t>(samples[i] << shift);
  }
  return row;
}

// One interlace pass: the pixels at (x0 + k * dx, y0 + m * dy). A non-interlaced image is the single pass (0, 0, 1, 1).
struct Pass {
  uint32_t x0, y0, dx, dy;
};
constexpr Pass kAllPixels[] = {{0, 0, 1, 1}};
constexpr Pass kAdam7Passes[] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                 {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};

// The uncompressed IDAT stream: each row of each pass as a filter-type byte followed by its packed samples.
std::vector<uint8_t> Scanlines(const PngSpec& spec) {
  const auto channels = static_cast<uint32_t>(ChannelsOf(spec.color_type));
  const std::span<const Pass> passes = spec.interlaced ? std::span<const Pass>(kAdam7Passes) : kAllPixels;
  std::vector<uint8_t> raw;
  for (const Pass& pass : passes) {
    if (pass.x0 >= spec.width) continue;  // an empty pass contributes no rows at all
    for (uint32_t y = pass.y0; y < spec.height; y += pass.dy) {
      std::vector<uint16_t> samples;
      for (uint32_t x = pass.x0; x < spec.width; x += pass.dx) {
        const auto first = spec.samples.begin() + (static_cast<size_t>(y) * spec.width + x) * channels;
        samples.insert(samples.end(), first, first + channels);
      }
      raw.push_back(kFilterNone);
      const std::vector<uint8_t> row = PackRow(spec.bit_depth, samples);
      raw.insert(raw.end(), row.begin(), row.end());
    }
  }
  return raw;
}

std::vector<uint8_t> Deflate(const std::vector<uint8_t>& raw) {
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> compressed(size);
  if (compress2(compressed.data(), &size, raw.data(), static_cast<uLong>(raw.size()), Z_BEST_SPEED) != Z_OK) {
    throw std::runtime_error("zlib compress2 failed");
  }
  compressed.resize(size);
  return compressed;
}

}  // namespace

PngSpec MakePngSpec(uint32_t width, uint32_t height, uint8_t bit_depth, PngColorType color_type) {
  PngSpec spec;
  spec.width = width;
  spec.height = height;
  spec.bit_depth = bit_depth;
  spec.color_type = color_type;
  return spec;
}

int ChannelsOf(PngColorType color_type) {
  switch (color_type) {
    case kGrayAlpha:
      return 2;
    case kRgb:
      return 3;
    case kRgba:
      return 4;
    default:
      return 1;
  }
}

std::vector<uint8_t> PngChunk(const std::string& type, const std::vector<uint8_t>& data) {
  constexpr size_t kLengthBytes = 4;
  constexpr size_t kTypeBytes = 4;
  constexpr size_t kCrcBytes = 4;
  // Sized up front and filled by position: GCC 12 reports a false stringop-overread on incremental inserts here.
  std::vector<uint8_t> chunk(kLengthBytes + kTypeBytes + data.size() + kCrcBytes);
  WriteBigEndian32(chunk.data(), static_cast<uint32_t>(data.size()));
  std::copy(type.begin(), type.end(), chunk.begin() + kLengthBytes);
  std::copy(data.begin(), data.end(), chunk.begin() + kLengthBytes + kTypeBytes);
  const uLong crc = crc32(0L, chunk.data() + kLengthBytes, static_cast<uInt>(kTypeBytes + data.size()));
  WriteBigEndian32(chunk.data() + kLengthBytes + kTypeBytes + data.size(), static_cast<uint32_t>(crc));
  return chunk;
}

std::vector<uint8_t> IhdrPayload(uint32_t width, uint32_t height, uint8_t bit_depth, uint8_t color_type,
                                 bool interlaced) {
  std::vector<uint8_t> ihdr;
  AppendBigEndian32(ihdr, width);
  AppendBigEndian32(ihdr, height);
  ihdr.insert(ihdr.end(), {bit_depth, color_type, 0, 0, static_cast<uint8_t>(interlaced ? 1 : 0)});
  return ihdr;
}

std::vector<uint8_t> WritePng(const PngSpec& spec) {
  std::vector<uint8_t> png(std::begin(kPngSignature), std::end(kPngSignature));
  auto append = [&png](const std::vector<uint8_t>& chunk) { png.insert(png.end(), chunk.begin(), chunk.end()); };
  append(PngChunk("IHDR", IhdrPayload(spec.width, spec.height, spec.bit_depth, spec.color_type, spec.interlaced)));
  if (!spec.palette.empty()) append(PngChunk("PLTE", spec.palette));
  if (!spec.trns.empty()) append(PngChunk("tRNS", spec.trns));
  append(PngChunk("IDAT", Deflate(Scanlines(spec))));
  append(PngChunk("IEND", {}));
  return png;
}

std::vector<uint8_t> PngHeaderOnly(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png(std::begin(kPngSignature), std::end(kPngSignature));
  for (const auto& chunk : {PngChunk("IHDR", IhdrPayload(width, height, 8, kRgb)), PngChunk("IEND", {})}) {
    png.insert(png.end(), chunk.begin(), chunk.end());
  }
  return png;
}

std::vector<uint8_t> WriteJpeg(const std::vector<uint8_t>& pixels, int width, int height, JpegInput input, int quality,
                               bool progressive) {
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr errors{};
  cinfo.err = jpeg_std_error(&errors);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = input == JpegInput::kGray ? 1 : input == JpegInput::kRgb ? 3 : 4;
  cinfo.in_color_space = input == JpegInput::kGray ? JCS_GRAYSCALE : input == JpegInput::kRgb ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);  // CMYK input gets an Adobe marker, so readers treat the samples as inverted ink
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  const size_t row_bytes = static_cast<size_t>(width) * cinfo.input_components;
  while (cinfo.next_scanline < cinfo.image_height) {
    auto* row = const_cast<JSAMPLE*>(pixels.data() + cinfo.next_scanline * row_bytes);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> jpeg(buffer, buffer + size);
  std::free(buffer);
  return jpeg;
}

}  // namespace fovea::imageio::testing
