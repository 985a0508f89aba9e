#include "server/api/localize_budget.h"

#include <algorithm>
#include <cmath>

namespace fovea::server {
namespace {

// PNG framing: signature (8), IHDR chunk (25), IEND chunk (12); each IDAT chunk adds length, type and CRC (12).
constexpr int64_t kPngFixedBytes = 8 + 25 + 12;
constexpr int64_t kPngChunkBytes = 12;
// libspng writes IDAT chunks of at least this many bytes.
constexpr int64_t kMinIdatBytes = 8192;
// zlib's compressBound: stored blocks cost 5 bytes per 16 KiB at worst, plus the header and checksum.
constexpr int64_t kZlibFixedBytes = 13;
// A length-delimited field: its tag and a varint length of up to 5 bytes.
constexpr int64_t kFieldBytes = 6;
// A Heatmap's scalar fields: class index (varint, 11), width, height, window sizes (4 x 6), strides and offsets
// (4 x 5), value_min and value_max (2 x 5), each with its tag; rounded up.
constexpr int64_t kHeatmapScalarBytes = 80;
// A Detection's scalar fields: class index (11), score (5) and the box message (2 + 4 x 5), with tags; rounded up.
constexpr int64_t kDetectionScalarBytes = 48;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Thousands separators, so a limit reads at a glance.
std::string Grouped(int64_t value) {
  const std::string digits = std::to_string(value);
  std::string grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    const size_t left = digits.size() - i;  // digits from here to the end
    if (i > 0 && left % 3 == 0 && digits[i - 1] != '-') grouped += ',';
    grouped += digits[i];
  }
  return grouped;
}

std::string Size(int64_t width, int64_t height) { return std::to_string(width) + "x" + std::to_string(height); }

// Detections one map can yield: peaks are cells no smaller than their 8 neighbours, with plateaus counted once, so no
// two are adjacent: at most one per 2x2 block.
int64_t PeaksPerMap(const LocalizeWork& work) { return CeilDiv(work.map_rows, 2) * CeilDiv(work.map_cols, 2); }

// Maps that can hold a detection at the same cell. Dense probabilities of one window sum to at most 1, so at most
// 1/threshold classes reach the threshold there; CAM and Grad-CAM maps are scaled per class, so every map can.
int64_t MapsWithPeaks(const LocalizeWork& work) {
  if (!work.dense || work.score_threshold <= 0.0f) return work.maps;
  const auto per_cell = static_cast<int64_t>(std::floor(1.0f / work.score_threshold));
  return std::min(work.maps, std::max<int64_t>(per_cell, 1));
}

Status TooLargeAnswer(const LocalizeWork& work, const AnswerBytes& bytes, int64_t limit) {
  std::string message = "the answer would take up to " + Grouped(bytes.total()) + " bytes (" +
                        std::to_string(work.maps) + " heatmap(s) of " + Size(work.map_cols, work.map_rows) +
                        " cells as " + (work.png_maps ? "8-bit PNGs" : "floats") + ": " + Grouped(bytes.maps);
  if (work.overlays) {
    message += "; " + std::to_string(work.maps) + " overlay(s) of " + Size(work.image_width, work.image_height) +
               " pixels: " + Grouped(bytes.overlays);
  }
  message += "; detections: " + Grouped(bytes.detections) + "), over the server's message limit of " + Grouped(limit) +
             " bytes (--max-message-bytes); ask for fewer classes (class_indices or top_k)";
  if (work.overlays) message += ", no overlays (render_overlays false)";
  if (work.dense) message += ", a larger stride";
  if (!work.png_maps) message += ", 8-bit maps (map_format HEATMAP_FORMAT_PNG)";
  return ResourceExhausted(message + " or a higher score_threshold");
}

}  // namespace

int64_t PngBytesBound(int64_t width, int64_t height, int64_t channels) {
  const int64_t filtered = height * (1 + width * channels);  // a filter-type byte starts every row
  const int64_t zlib = filtered + (filtered >> 12) + (filtered >> 14) + (filtered >> 25) + kZlibFixedBytes;
  return kPngFixedBytes + zlib + kPngChunkBytes * (CeilDiv(zlib, kMinIdatBytes) + 1);
}

AnswerBytes AnswerBytesBound(const LocalizeWork& work) {
  constexpr int64_t kFloatBytes = 4;
  constexpr int64_t kRgbChannels = 3;
  const int64_t cells = work.map_rows * work.map_cols;
  const int64_t values = work.png_maps ? PngBytesBound(work.map_cols, work.map_rows, 1) : cells * kFloatBytes;
  AnswerBytes bytes;
  bytes.maps = work.maps * (kFieldBytes + kHeatmapScalarBytes + kFieldBytes + work.label_bytes + kFieldBytes + values);
  if (work.overlays) {
    bytes.overlays = work.maps * (kFieldBytes + PngBytesBound(work.image_width, work.image_height, kRgbChannels));
  }
  bytes.detections =
      MapsWithPeaks(work) * PeaksPerMap(work) * (kFieldBytes + kDetectionScalarBytes + kFieldBytes + work.label_bytes);
  return bytes;
}

Status CheckLocalizeBudget(const LocalizeWork& work, const LocalizeLimits& limits) {
  if (work.dense) {
    const int64_t pixels = work.dense_passes * work.image_width * work.image_height;
    if (pixels > limits.max_dense_work_pixels) {
      return ResourceExhausted(
          "the dense map would run " + std::to_string(work.dense_passes) + " shifted passes over the " +
          Size(work.image_width, work.image_height) + " image (" + Grouped(pixels) +
          " pixels), over the dense work limit of " + Grouped(limits.max_dense_work_pixels) +
          " pixels; use a larger stride (the model's natural stride takes one pass) or a smaller image");
    }
    constexpr int64_t kFloatBytes = 4;
    const int64_t cells = std::max(work.map_rows * work.map_cols, work.dense_pass_cells);
    const int64_t map_bytes = work.dense_classes * cells * kFloatBytes;
    if (map_bytes > limits.max_dense_map_bytes) {
      return ResourceExhausted("the dense map of all " + std::to_string(work.dense_classes) + " classes over " +
                               Grouped(cells) + " windows would take " + Grouped(map_bytes) +
                               " bytes, over the dense-map memory limit of " + Grouped(limits.max_dense_map_bytes) +
                               " bytes; use a larger stride or a smaller image");
    }
  }
  const AnswerBytes bytes = AnswerBytesBound(work);
  if (bytes.total() > limits.max_response_bytes) return TooLargeAnswer(work, bytes, limits.max_response_bytes);
  return OkStatus();
}

}  // namespace fovea::server
