#include "engine/ops/slice.h"

#include <algorithm>
#include <string>

#include "engine/ops/strided_view.h"

namespace fovea::engine::ops {
namespace {

constexpr size_t kStartsInput = 1;
constexpr size_t kEndsInput = 2;
constexpr size_t kAxesInput = 3;
constexpr size_t kStepsInput = 4;
constexpr int64_t kImageRank = 4;
constexpr int64_t kFirstSpatialAxis = 2;

// The ranges of one Slice: parallel lists, one entry per sliced axis.
struct Ranges {
  std::vector<int64_t> starts, ends, axes, steps;
};

StatusOr<std::vector<int64_t>> Int64List(const Tensor& t, const char* what) {
  if (t.dtype() != DataType::kInt64 || t.rank() != 1) {
    return InvalidArgument(std::string("Slice ") + what + " must be a 1-D int64 tensor");
  }
  return std::vector<int64_t>(t.int64s().begin(), t.int64s().end());
}

// The ranges from the attributes or from the constant inputs (an absent input is a Tensor without data).
StatusOr<Ranges> ReadRanges(const SliceParams& params, std::span<const Tensor> inputs) {
  Ranges r{params.starts, params.ends, params.axes, {}};
  if (params.ranges_from_inputs) {
    if (inputs.size() <= kEndsInput || !inputs[kStartsInput].has_data() || !inputs[kEndsInput].has_data()) {
      return InvalidArgument("Slice needs starts and ends");
    }
    FOVEA_ASSIGN_OR_RETURN(r.starts, Int64List(inputs[kStartsInput], "starts"));
    FOVEA_ASSIGN_OR_RETURN(r.ends, Int64List(inputs[kEndsInput], "ends"));
    if (inputs.size() > kAxesInput && inputs[kAxesInput].has_data()) {
      FOVEA_ASSIGN_OR_RETURN(r.axes, Int64List(inputs[kAxesInput], "axes"));
    }
    if (inputs.size() > kStepsInput && inputs[kStepsInput].has_data()) {
      FOVEA_ASSIGN_OR_RETURN(r.steps, Int64List(inputs[kStepsInput], "steps"));
    }
  }
  const size_t n = r.starts.size();
  if (r.axes.empty()) {
    for (size_t i = 0; i < n; ++i) r.axes.push_back(static_cast<int64_t>(i));
  }
  if (r.steps.empty()) r.steps.assign(n, 1);
  if (r.ends.size() != n || r.axes.size() != n || r.steps.size() != n) {
    return InvalidArgument("Slice starts, ends, axes and steps differ in length");
  }
  return r;
}

// The view selecting `ranges` of a plain tensor of `shape` (ONNX clamping rules).
StatusOr<StridedView> SliceView(const Shape& shape, const Ranges& ranges) {
  const auto rank = static_cast<int64_t>(shape.size());
  StridedView view;
  view.shape = shape;
  view.strides = PlainStrides(shape);
  std::vector<bool> seen(shape.size(), false);
  for (size_t i = 0; i < ranges.axes.size(); ++i) {
    int64_t axis = ranges.axes[i];
    if (axis < -rank || axis >= rank) return InvalidArgument("Slice axis " + std::to_string(axis) + " is out of range");
    if (axis < 0) axis += rank;
    if (seen[static_cast<size_t>(axis)]) return InvalidArgument("Slice axes repeat axis " + std::to_string(axis));
    seen[static_cast<size_t>(axis)] = true;
    const int64_t step = ranges.steps[i];
    if (step == 0) return InvalidArgument("Slice step is 0");
    const int64_t dim = shape[static_cast<size_t>(axis)];
    int64_t start = ranges.starts[i], end = ranges.ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    // A positive step walks [start, end) inside [0, dim]; a negative one walks (end, start] inside [-1, dim - 1].
    start = step > 0 ? std::clamp<int64_t>(start, 0, dim) : std::clamp<int64_t>(start, -1, dim - 1);
    end = step > 0 ? std::clamp<int64_t>(end, 0, dim) : std::clamp<int64_t>(end, -1, dim - 1);
    const int64_t span = step > 0 ? end - start : start - end;
    const int64_t magnitude = step > 0 ? step : -step;
    const int64_t count = span <= 0 ? 0 : (span + magnitude - 1) / magnitude;
    view.offset += count > 0 ? start * view.strides[static_cast<size_t>(axis)] : 0;
    view.shape[static_cast<size_t>(axis)] = count;
    view.strides[static_cast<size_t>(axis)] *= step;
  }
  return view;
}

}  // namespace

StatusOr<std::unique_ptr<Slice>> Slice::Create(const SliceParams& params) {
  if (!params.ranges_from_inputs && params.starts.size() != params.ends.size()) {
    return InvalidArgument("Slice attributes starts and ends differ in length");
  }
  return std::unique_ptr<Slice>(new Slice(params));
}

StatusOr<std::vector<Tensor>> Slice::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("Slice needs data");
  FOVEA_ASSIGN_OR_RETURN(Ranges ranges, ReadRanges(params_, inputs));
  FOVEA_ASSIGN_OR_RETURN(StridedView view, SliceView(inputs[0].shape(), ranges));
  return std::vector<Tensor>{GatherView(inputs[0], view)};
}

StatusOr<std::vector<PlanValue>> Slice::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("Slice needs data");
  std::vector<Tensor> constants = {Tensor()};
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].present() && !inputs[i].is_constant()) {
      return Unimplemented("Slice starts, ends, axes and steps must be known when the model loads");
    }
    constants.push_back(inputs[i].present() ? *inputs[i].constant : Tensor());
  }
  FOVEA_ASSIGN_OR_RETURN(Ranges ranges, ReadRanges(params_, constants));
  FOVEA_ASSIGN_OR_RETURN(StridedView view, SliceView(inputs[0].shape, ranges));
  return std::vector<PlanValue>{EmitView(builder, inputs[0], view)};
}

StatusOr<SpatialGeometry> Slice::Geometry(std::span<const Shape> /*input_shapes*/) const {
  if (params_.ranges_from_inputs) {
    return FailedPrecondition("Slice with starts and ends given as inputs does not describe how it maps pixels");
  }
  SpatialGeometry geometry;
  for (size_t i = 0; i < params_.starts.size(); ++i) {
    const int64_t axis = params_.axes.empty() ? static_cast<int64_t>(i) : params_.axes[i];
    const int64_t normalized = axis < 0 ? axis + kImageRank : axis;
    if (normalized < kFirstSpatialAxis) continue;
    if (normalized >= kImageRank) return FailedPrecondition("Slice of an axis beyond an image's four");
    // A start counted from the end depends on the image size, which a geometry cannot.
    if (params_.starts[i] < 0) return FailedPrecondition("Slice with a negative start on a spatial axis");
    geometry.offset[static_cast<size_t>(normalized - kFirstSpatialAxis)] = -params_.starts[i];
  }
  return geometry;
}

StatusOr<std::vector<Tensor>> Slice::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                              std::span<const Tensor> output_grads,
                                              std::span<const bool> /*needed*/) const {
  if (inputs.empty() || output_grads.empty()) return InvalidArgument("Slice backward needs data and a gradient");
  FOVEA_ASSIGN_OR_RETURN(Ranges ranges, ReadRanges(params_, inputs));
  FOVEA_ASSIGN_OR_RETURN(StridedView view, SliceView(inputs[0].shape(), ranges));
  std::vector<Tensor> grads(inputs.size());
  grads[0] = ScatterAddView(output_grads[0], inputs[0].shape(), view);
  return grads;
}

}  // namespace fovea::engine::ops
