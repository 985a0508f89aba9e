#pragma once
// The sampling behind ONNX Resize and Upsample: which input elements each output element reads, and with which
// weights, for every mode and coordinate transformation; the loops that apply those taps forwards and backwards (the
// reference kernel, the host step and the gradient all call them); and the test deciding when oneDNN's resampling
// primitive reads the very same taps.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "common/status.h"
#include "engine/tensor.h"

namespace fovea::engine::ops {

enum class ResizeMode { kNearest, kLinear, kCubic };

// How an output coordinate maps to an input coordinate (ONNX coordinate_transformation_mode).
enum class CoordinateTransform {
  kHalfPixel,
  kPytorchHalfPixel,
  kAlignCorners,
  kAsymmetric,
  kTfHalfPixelForNn,
  kTfCropAndResize,
};

// How mode=nearest turns an input coordinate into an index (ONNX nearest_mode).
enum class NearestRounding { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct SamplingParams {
  ResizeMode mode = ResizeMode::kNearest;
  CoordinateTransform transform = CoordinateTransform::kHalfPixel;
  NearestRounding rounding = NearestRounding::kRoundPreferFloor;
  float cubic_coeff_a = -0.75f;
  bool exclude_outside = false;      // cubic: taps outside the input get no weight and the rest are renormalized
  float extrapolation_value = 0.0f;  // tf_crop_and_resize: the value of output elements sampled outside the input
};

// The output shape of a resize and, per axis, what the coordinate transformations divide by: the scale (the given one,
// or output/input when the output sizes were given) and the resized length align_corners spans (input · scale,
// unfloored, as ONNX's reference has it; the output size when sizes were given).
struct ResizeTarget {
  Shape output;
  std::vector<double> scales;
  std::vector<double> lengths;
};

// Resolves the output of resizing `input`: from `sizes` when it is not empty, otherwise floor(input · scale) per axis
// (for tf_crop_and_resize, floor(input · (roi_end − roi_start) · scale), which needs `roi`).
StatusOr<ResizeTarget> ResolveResizeTarget(const Shape& input, std::span<const float> scales,
                                           std::span<const int64_t> sizes, std::span<const float> roi, bool crop);

// One axis: output index o reads input indices index[first[o] .. first[o+1]) with the matching weights. Taps that
// fall outside the input are clamped to its edge and merged with the edge tap; zero weights are dropped.
struct AxisTaps {
  std::vector<int64_t> first;
  std::vector<int64_t> index;
  std::vector<double> weight;
  std::vector<uint8_t> outside;  // per output index: tf_crop_and_resize samples outside the input (extrapolates)
};

// The taps of every axis of one resize.
struct ResizeTaps {
  Shape input, output;
  std::vector<AxisTaps> axes;
  float extrapolation_value = 0.0f;
};

// The taps for resizing `input` to `target`; `roi` ([starts..., ends...], normalized) is read by tf_crop_and_resize
// only and may be empty otherwise.
StatusOr<ResizeTaps> BuildResizeTaps(const SamplingParams& params, const Shape& input, const ResizeTarget& target,
                                     std::span<const float> roi);

// y (taps.output, row-major) = the resize of x (taps.input, row-major).
void ResizeForward(const ResizeTaps& taps, const float* x, float* y);
// dx (taps.input) = the gradient of Σ dy·y with respect to x; dx is overwritten.
void ResizeBackward(const ResizeTaps& taps, const float* dy, float* dx);

// The oneDNN resampling algorithm that reads exactly `taps`, if one does. oneDNN 2.6 samples every spatial axis at
// c(o) = (o + 0.5) · in / out − 0.5 (half_pixel with the scale out/in, whatever factors it is given); nearest takes
// round-half-up(c) clamped to the input, linear blends floor(c) and floor(c) + 1 clamped to the input.
// tests/engine/resample_ops_test.cc checks this description against oneDNN over many sizes and layouts. The batch
// and channel axes must be left as they are, and oneDNN resamples 1 to 3 spatial axes.
std::optional<dnnl::algorithm> OneDnnResamplingFor(const ResizeTaps& taps);

}  // namespace fovea::engine::ops
