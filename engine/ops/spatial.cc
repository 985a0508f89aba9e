#include "engine/ops/spatial.h"

#include <string>

namespace fovea::engine::ops {
namespace {

std::vector<int64_t> OrDefault(const std::vector<int64_t>& v, size_t n, int64_t fallback) {
  return v.empty() ? std::vector<int64_t>(n, fallback) : v;
}

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

StatusOr<Window> ResolveWindow(const WindowAttributes& attributes, const std::vector<int64_t>& input,
                               const std::vector<int64_t>& kernel) {
  const size_t n = input.size();
  Window w;
  w.kernel = attributes.kernel.empty() ? kernel : attributes.kernel;
  w.strides = OrDefault(attributes.strides, n, 1);
  w.dilations = OrDefault(attributes.dilations, n, 1);
  w.pads_begin = OrDefault(attributes.pads_begin, n, 0);
  w.pads_end = OrDefault(attributes.pads_end, n, 0);
  if (w.kernel.size() != n || w.strides.size() != n || w.dilations.size() != n || w.pads_begin.size() != n ||
      w.pads_end.size() != n) {
    return InvalidArgument("kernel, strides, dilations and pads must each have " + std::to_string(n) +
                           " entries (one per spatial axis)");
  }
  w.output.resize(n);
  for (size_t i = 0; i < n; ++i) {
    if (w.kernel[i] <= 0 || w.strides[i] <= 0 || w.dilations[i] <= 0 || w.pads_begin[i] < 0 || w.pads_end[i] < 0) {
      return InvalidArgument("kernel, strides and dilations must be positive and pads non-negative");
    }
    const int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
    switch (attributes.auto_pad) {
      case AutoPad::kValid:
        w.pads_begin[i] = w.pads_end[i] = 0;
        break;
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        const int64_t out = CeilDiv(input[i], w.strides[i]);
        const int64_t total = std::max<int64_t>(0, (out - 1) * w.strides[i] + extent - input[i]);
        const int64_t small = total / 2;
        w.pads_begin[i] = attributes.auto_pad == AutoPad::kSameUpper ? small : total - small;
        w.pads_end[i] = total - w.pads_begin[i];
        break;
      }
      case AutoPad::kNotSet:
        break;
    }
    const int64_t span = input[i] + w.pads_begin[i] + w.pads_end[i] - extent;
    if (span < 0) {
      return InvalidArgument("window of " + std::to_string(extent) + " does not fit input of " +
                             std::to_string(input[i]) + " plus padding");
    }
    int64_t out = attributes.ceil_mode ? CeilDiv(span, w.strides[i]) + 1 : span / w.strides[i] + 1;
    // As in PyTorch and ONNX, the last window must start inside the input or left padding.
    if (attributes.ceil_mode && (out - 1) * w.strides[i] >= input[i] + w.pads_begin[i]) --out;
    w.output[i] = out;
    // Pads that make oneDNN's floor division produce `out`.
    w.pads_end[i] = std::max(w.pads_end[i], (out - 1) * w.strides[i] + extent - input[i] - w.pads_begin[i]);
  }
  return w;
}

StatusOr<SpatialGeometry> WindowGeometry(const WindowAttributes& attributes, const std::vector<int64_t>& kernel,
                                         std::string_view op) {
  constexpr size_t kAxes = 2;
  const std::string name(op);
  if (attributes.auto_pad == AutoPad::kSameUpper || attributes.auto_pad == AutoPad::kSameLower) {
    return FailedPrecondition(name + " with auto_pad SAME has an offset that depends on the input size");
  }
  const std::vector<int64_t> window = attributes.kernel.empty() ? kernel : attributes.kernel;
  if (window.size() != kAxes) return FailedPrecondition(name + " is not a 2-D window; localization maps 2-D images");
  const auto pads = attributes.auto_pad == AutoPad::kValid ? std::vector<int64_t>{} : attributes.pads_begin;
  // Attributes are checked against the input's rank only when a plan is built; a graph analysed before that (the
  // head of a model being loaded) may still carry a 1-D stride list on a 2-D kernel (found by classifier_edit_fuzz).
  for (const auto* list : {&attributes.strides, &attributes.dilations, &pads}) {
    if (!list->empty() && list->size() != kAxes) {
      return FailedPrecondition(name + " has " + std::to_string(list->size()) +
                                " values in a per-axis attribute of its 2-D window");
    }
  }
  SpatialGeometry g;
  for (size_t a = 0; a < kAxes; ++a) {
    const int64_t dilation = attributes.dilations.empty() ? 1 : attributes.dilations[a];
    g.stride[a] = attributes.strides.empty() ? 1 : attributes.strides[a];
    g.window[a] = dilation * (window[a] - 1) + 1;
    g.offset[a] = pads.empty() ? 0 : pads[a];
  }
  return g;
}

}  // namespace fovea::engine::ops
