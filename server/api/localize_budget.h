#pragma once
// What one Localize answer will cost, settled from the request, the image's size and the model before any engine
// work, so a request whose answer could not be sent (or whose dense pass would not fit) is refused in milliseconds
// instead of after the maps and overlays were built.
//
// Sizes are upper bounds on the protobuf encoding of LocalizeResponse: a PNG is counted at the size of its
// uncompressed (stored) form, detections at the most peaks a map can hold.

#include <cstdint>
#include <string>

#include "common/status.h"

namespace fovea::server {

// The answer and the dense pass one request asks for.
struct LocalizeWork {
  bool dense = false;
  int64_t maps = 0;  // heatmaps in the answer
  int64_t map_rows = 0;
  int64_t map_cols = 0;
  bool png_maps = false;  // 8-bit PNG instead of 4-byte floats per cell
  bool overlays = false;  // one image-sized RGB PNG per heatmap
  int64_t image_width = 0;
  int64_t image_height = 0;
  int64_t label_bytes = 0;       // the longest class label of the model
  float score_threshold = 0.5f;  // detections below it are dropped
  // DENSE only: the image is run once per shifted pass, and every pass computes every class.
  int64_t dense_passes = 0;
  int64_t dense_classes = 0;
  int64_t dense_pass_cells = 0;  // windows of one pass at the natural stride
};

// The limits a request is held to.
struct LocalizeLimits {
  int64_t max_response_bytes = int64_t{64} << 20;  // the server's --max-message-bytes
  // Pixels the trunk may process for one DENSE request (image pixels times shifted passes): 16 passes of a 1 Mpixel
  // image, about a minute of a ResNet-18 trunk on two cores.
  int64_t max_dense_work_pixels = int64_t{16} << 20;
  // The [classes, rows, cols] float map one DENSE request holds before classes are picked.
  int64_t max_dense_map_bytes = int64_t{256} << 20;
};

// Upper bound on the bytes of an 8-bit PNG of width x height pixels and `channels` channels, whatever its content:
// the filtered rows stored uncompressed (zlib's compressBound), in IDAT chunks of at least 8 KiB, plus the fixed
// chunks.
int64_t PngBytesBound(int64_t width, int64_t height, int64_t channels);

// Upper bound on the answer's encoded size, split by part.
struct AnswerBytes {
  int64_t maps = 0;
  int64_t overlays = 0;
  int64_t detections = 0;
  int64_t total() const { return maps + overlays + detections; }
};
AnswerBytes AnswerBytesBound(const LocalizeWork& work);

// OK, or RESOURCE_EXHAUSTED naming the limit that `work` exceeds, by how much, and the ways to fit under it.
Status CheckLocalizeBudget(const LocalizeWork& work, const LocalizeLimits& limits);

}  // namespace fovea::server
