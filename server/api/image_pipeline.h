#pragma once
// Image pipeline: turns one fovea.v1.ImageInput into the model-ready planar float input of one image.
//
// Resize policy: every image is converted to the model's channel count (gray↔RGB by BT.601 luma, alpha composited
// over black) and brought to the model's height × width by its resize mode: `stretch` (default) resizes straight to
// it (bilinear, area averaging when shrinking 2x or more; the aspect ratio is not kept: Fovea's models are trained on
// images resized the same way); `crop` resizes the shorter side to `shorter_side` with PIL's antialiasing triangle
// filter and takes the centre, as torchvision's ImageNet eval transform does. Then a BGR model gets its channels
// swapped, and pixels are scaled to [0, 1] and normalized with the model's mean/std, planar (NCHW) or interleaved
// (NHWC). A DATA_TYPE_FLOAT32 tensor skips all of this and must already have the model's exact image shape.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fovea/v1/inference.pb.h"
#include "imageio/image.h"
#include "server/models/preprocessing.h"

namespace fovea::server {

// What one image must become: [channels, height, width] floats, normalized with mean/std (empty = none).
struct InputSpec {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<float> mean;
  std::vector<float> std;
  Preprocessing preprocessing;

  int64_t num_elements() const { return channels * height * width; }
  // One image's tensor shape: [channels, height, width], or [height, width, channels] for an NHWC model.
  std::vector<int64_t> ImageShape() const;
  // [count, ImageShape()...].
  std::vector<int64_t> BatchShape(int64_t count) const;
};

// Limits checked before any pixel buffer is allocated.
struct ImageLimits {
  size_t max_image_bytes = size_t{32} << 20;     // encoded bytes or raw tensor bytes
  int64_t max_image_pixels = int64_t{64} << 20;  // width * height
};

// Writes the image's model input into `dst` (spec.num_elements() floats). Errors name the problem:
// RESOURCE_EXHAUSTED for bytes over max_image_bytes; INVALID_ARGUMENT for anything else (undecodable or truncated
// bytes, dimensions over the pixel limit, a malformed tensor).
Status PrepareImage(const v1::ImageInput& input, const InputSpec& spec, const ImageLimits& limits,
                    std::span<float> dst);

// Decodes an encoded image or takes a DATA_TYPE_UINT8 pixel tensor as is, with the same limits and errors as
// PrepareImage; a DATA_TYPE_FLOAT32 tensor (already model-sized) is INVALID_ARGUMENT. For callers that need the
// pixels themselves (localization keeps the native resolution and draws overlays on them).
StatusOr<imageio::Image> DecodePixels(const v1::ImageInput& input, const ImageLimits& limits);

// The pieces PrepareImage is built from, for images arriving in other envelopes (the Open Inference Protocol service)
// or needing other steps (localization). Same checks, codes and messages as PrepareImage.

// Decodes PNG/JPEG `bytes` into the model input in `dst`.
Status PrepareEncodedImage(std::string_view bytes, const InputSpec& spec, const ImageLimits& limits,
                           std::span<float> dst);

// Whether 8-bit pixels with this many channels (gray, RGB, RGBA) can be converted to a model input.
bool IsSupportedChannelCount(int64_t channels);

// RESOURCE_EXHAUSTED when a height x width pixel buffer is over the limit; checked before the buffer is allocated.
Status CheckPixelCount(int64_t height, int64_t width, const ImageLimits& limits);

// Converts `image` to spec.channels, resizes it to spec.height x spec.width when it differs, and writes it
// normalized into `dst` (spec.num_elements() floats). INVALID_ARGUMENT when the model's channel count is not 1, 3 or 4.
Status PreparePixels(const imageio::Image& image, const InputSpec& spec, std::span<float> dst);

// The model input a DATA_TYPE_FLOAT32 tensor carries, as a view of the tensor's own bytes (no copy; valid while
// `tensor` is), after the checks PrepareImage makes: size limit, shape, byte count, finite values.
// FAILED_PRECONDITION when the bytes are not aligned for float reads (the caller copies instead).
StatusOr<std::span<const float>> FloatTensorView(const v1::RawTensor& tensor, const InputSpec& spec,
                                                 const ImageLimits& limits);

// INVALID_ARGUMENT naming the first NaN or infinite element of a model-ready float input.
Status CheckFinite(std::span<const float> values);

}  // namespace fovea::server
