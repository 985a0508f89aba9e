#pragma once
// Sliding-window geometry shared by Conv and the pooling ops: ONNX's kernel/stride/dilation/pads/auto_pad/ceil_mode
// turned into concrete per-axis pads and output sizes for one input size.

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/op.h"

namespace fovea::engine::ops {

enum class AutoPad { kNotSet, kSameUpper, kSameLower, kValid };

// The attributes as the model states them. Empty vectors take ONNX defaults (stride 1, dilation 1, pad 0).
struct WindowAttributes {
  std::vector<int64_t> kernel;  // per spatial axis; for Conv, empty = taken from the weights
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;
  std::vector<int64_t> pads_end;
  AutoPad auto_pad = AutoPad::kNotSet;
  bool ceil_mode = false;
};

// Concrete geometry for one input: every vector has one entry per spatial axis.
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end, output;
};

// Resolves `attributes` for `input` spatial sizes (and `kernel` when the attributes leave it to the weights).
// ceil_mode grows pads_end so that oneDNN's floor arithmetic yields ONNX's ceil output size.
StatusOr<Window> ResolveWindow(const WindowAttributes& attributes, const std::vector<int64_t>& input,
                               const std::vector<int64_t>& kernel);

// The SpatialGeometry of a window with these attributes over the last two axes (kernel taken from `kernel` when the
// attributes leave it to the weights). FAILED_PRECONDITION for auto_pad SAME (its offset depends on the input size)
// and for a window that is not 2-D.
StatusOr<SpatialGeometry> WindowGeometry(const WindowAttributes& attributes, const std::vector<int64_t>& kernel,
                                         std::string_view op);

}  // namespace fovea::engine::ops
