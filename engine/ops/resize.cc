#include "engine/ops/resize.h"

#include <cmath>
#include <string>

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

constexpr int kScalesInputLegacy = 1;  // Upsample-9, Resize-10: X, scales
constexpr int kRoiInput = 1;           // Resize-11 and later: X, roi, scales, sizes
constexpr int kScalesInput = 2;
constexpr int kSizesInput = 3;
constexpr size_t kImageRank = 4;  // N, C, H, W
constexpr size_t kSpatialAxes = 2;
// Input pixels of the 1-D resize that GeometryForScales samples to see where nearest upsampling reads: the index map
// of an integer upsampling repeats every input pixel, so a few pixels show all of it.
constexpr int64_t kGeometryProbePixels = 4;

StatusOr<std::vector<float>> FloatsOf(const Tensor* t, const char* what) {
  if (t == nullptr) return std::vector<float>{};
  if (t->dtype() != DataType::kFloat32) return InvalidArgument(std::string(what) + " must be float32");
  return std::vector<float>(t->floats().begin(), t->floats().end());
}

StatusOr<std::vector<int64_t>> Int64sOf(const Tensor* t, const char* what) {
  if (t == nullptr) return std::vector<int64_t>{};
  if (t->dtype() != DataType::kInt64) return InvalidArgument(std::string(what) + " must be int64");
  return std::vector<int64_t>(t->int64s().begin(), t->int64s().end());
}

// Whether upsampling by integer `factor` keeps output pixel o inside input pixel o / factor. The half-pixel transforms
// place output pixel o's extent at [o, o + 1) / factor in input pixel-edge coordinates, inside input pixel o / factor,
// whatever the mode; other transforms shift the grid, except for nearest modes whose rounding still reads input pixel
// o / factor for every o (asymmetric with floor, PyTorch's nearest export), which a small probe resize shows.
bool AlignedUpsampling(const SamplingParams& sampling, int64_t factor) {
  if (sampling.transform == CoordinateTransform::kHalfPixel ||
      sampling.transform == CoordinateTransform::kPytorchHalfPixel) {
    return true;
  }
  if (sampling.mode != ResizeMode::kNearest) return false;
  ResizeTarget target;
  target.output = {kGeometryProbePixels * factor};
  target.scales = {static_cast<double>(factor)};
  target.lengths = {static_cast<double>(target.output[0])};
  const auto taps = BuildResizeTaps(sampling, {kGeometryProbePixels}, target, {});
  if (!taps.ok()) return false;
  const AxisTaps& axis = taps->axes[0];
  for (int64_t o = 0; o < target.output[0]; ++o) {
    const auto first = static_cast<size_t>(axis.first[static_cast<size_t>(o)]);
    if (axis.first[static_cast<size_t>(o) + 1] != axis.first[static_cast<size_t>(o)] + 1) return false;
    if (axis.index[first] != o / factor) return false;
  }
  return true;
}

}  // namespace

StatusOr<std::unique_ptr<Resize>> Resize::Create(const ResizeParams& params) {
  if (params.inputs == ResizeInputs::kScalesAttribute && params.scales.empty()) {
    return InvalidArgument("Upsample needs the scales attribute");
  }
  if (params.sampling.mode == ResizeMode::kCubic && params.inputs != ResizeInputs::kRoiScalesSizes) {
    return InvalidArgument("mode cubic exists only from Resize-11");
  }
  return std::unique_ptr<Resize>(new Resize(params));
}

int Resize::RoiInput() const { return params_.inputs == ResizeInputs::kRoiScalesSizes ? kRoiInput : -1; }

StatusOr<Resize::Arguments> Resize::ReadArguments(std::span<const Tensor> inputs) const {
  const auto at = [&](int i) -> const Tensor* {
    return i >= 0 && static_cast<size_t>(i) < inputs.size() && inputs[i].has_data() ? &inputs[i] : nullptr;
  };
  Arguments arguments;
  switch (params_.inputs) {
    case ResizeInputs::kScalesAttribute:
      arguments.scales = params_.scales;
      break;
    case ResizeInputs::kScales: {
      FOVEA_ASSIGN_OR_RETURN(arguments.scales, FloatsOf(at(kScalesInputLegacy), "scales"));
      break;
    }
    case ResizeInputs::kRoiScalesSizes: {
      FOVEA_ASSIGN_OR_RETURN(arguments.roi, FloatsOf(at(kRoiInput), "roi"));
      FOVEA_ASSIGN_OR_RETURN(arguments.scales, FloatsOf(at(kScalesInput), "scales"));
      FOVEA_ASSIGN_OR_RETURN(arguments.sizes, Int64sOf(at(kSizesInput), "sizes"));
      break;
    }
  }
  if (!arguments.scales.empty() && !arguments.sizes.empty()) {
    return InvalidArgument("only one of scales and sizes may be given");
  }
  return arguments;
}

StatusOr<ResizeTaps> Resize::Taps(const Shape& x, const Arguments& arguments) const {
  FOVEA_ASSIGN_OR_RETURN(ResizeTarget target,
                         ResolveResizeTarget(x, arguments.scales, arguments.sizes, arguments.roi, Crops()));
  return BuildResizeTaps(params_.sampling, x, target, arguments.roi);
}

StatusOr<std::vector<Tensor>> Resize::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || inputs[0].dtype() != DataType::kFloat32) return InvalidArgument("X must be float32");
  FOVEA_ASSIGN_OR_RETURN(Arguments arguments, ReadArguments(inputs));
  FOVEA_ASSIGN_OR_RETURN(ResizeTaps taps, Taps(inputs[0].shape(), arguments));
  Tensor y(DataType::kFloat32, taps.output);
  ResizeForward(taps, inputs[0].data<float>(), y.data<float>());
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Resize::EmitOneDnn(PlanBuilder& builder, const PlanValue& x, const Shape& y_shape,
                                                    dnnl::algorithm algorithm) const {
  // Resampling keeps its input's element type and layout family (bf16 activations, blocked channels).
  const memory::desc dst_any(ToDims(y_shape), x.desc.data_type(), memory::format_tag::any);
  const dnnl::resampling_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, x.desc, dst_any);
  const dnnl::resampling_forward::primitive_desc pd(desc, builder.DefaultAttr(), builder.engine());
  PlanValue y = builder.NewValue(y_shape, pd.dst_desc());
  builder.AddStep(dnnl::resampling_forward(pd), {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<PlanValue>> Resize::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument(std::string(type()) + " needs X");
  if (inputs[0].dtype != DataType::kFloat32) return Unimplemented(std::string(type()) + " of non-float X");
  const PlanValue x = inputs[0].is_constant() ? builder.Reordered(inputs[0], PlainDesc(inputs[0].shape)) : inputs[0];
  // The parameters, as far as they are known now: scales and sizes set the output shape, so they must be constants;
  // a runtime roi is read by the host step.
  std::vector<Tensor> known(inputs.size());
  bool runtime_roi = false;
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].is_constant()) {
      known[i] = *inputs[i].constant;
    } else if (inputs[i].present() && static_cast<int>(i) == RoiInput()) {
      runtime_roi = true;
    } else if (inputs[i].present()) {
      return Unimplemented(std::string(type()) + " input " + std::to_string(i) +
                           " (scales or sizes) must be known at plan time: it sets the output shape");
    }
  }
  FOVEA_ASSIGN_OR_RETURN(Arguments arguments, ReadArguments(known));
  const bool roi_at_run_time = runtime_roi && Crops();
  if (roi_at_run_time && arguments.sizes.empty()) {
    return Unimplemented("tf_crop_and_resize with scales needs roi known at plan time: it sets the output shape");
  }
  FOVEA_ASSIGN_OR_RETURN(ResizeTarget target,
                         ResolveResizeTarget(x.shape, arguments.scales, arguments.sizes, arguments.roi, Crops()));
  if (!roi_at_run_time) {
    FOVEA_ASSIGN_OR_RETURN(ResizeTaps taps, BuildResizeTaps(params_.sampling, x.shape, target, arguments.roi));
    if (const auto algorithm = OneDnnResamplingFor(taps)) {
      try {
        return EmitOneDnn(builder, x, target.output, *algorithm);
      } catch (const dnnl::error&) {
        // No implementation for this layout or rank: the host step below computes the same.
      }
    }
  }
  // Fovea's loops: the roi travels with X (only tf_crop_and_resize reads it), the rest is fixed now.
  std::vector<PlanValue> host_inputs = {x};
  if (Crops()) host_inputs.push_back(inputs[static_cast<size_t>(RoiInput())]);
  HostKernel kernel = [sampling = params_.sampling, target](std::span<const Tensor> in, std::span<Tensor> out) {
    std::span<const float> roi;
    if (in.size() > 1 && in[1].has_data()) roi = in[1].floats();
    FOVEA_ASSIGN_OR_RETURN(ResizeTaps taps, BuildResizeTaps(sampling, in[0].shape(), target, roi));
    ResizeForward(taps, in[0].data<float>(), out[0].data<float>());
    return OkStatus();
  };
  return builder.AddHostStep(std::move(kernel), host_inputs, {target.output}, {DataType::kFloat32});
}

StatusOr<SpatialGeometry> Resize::Geometry(std::span<const Shape> /*input_shapes*/) const {
  if (params_.inputs != ResizeInputs::kScalesAttribute) {
    return FailedPrecondition(std::string(type()) +
                              " takes its scales from an input, which its geometry depends on (GeometryForScales)");
  }
  return GeometryForScales(params_.scales);
}

StatusOr<SpatialGeometry> Resize::GeometryForScales(std::span<const float> scales) const {
  const auto refuse = [&](const std::string& why) {
    return FailedPrecondition(std::string(type()) + " " + why + ", which SpatialGeometry cannot describe");
  };
  if (scales.size() != kImageRank) return refuse("does not resize a rank-4 NCHW input");
  if (scales[0] != 1.0f || scales[1] != 1.0f) return refuse("resizes the batch or channel axis");
  SpatialGeometry geometry;
  for (size_t a = 0; a < kSpatialAxes; ++a) {
    const float factor = scales[kImageRank - kSpatialAxes + a];
    if (factor < 1.0f || factor != std::floor(factor)) return refuse("is not an integer upsampling");
    const auto upsample = static_cast<int64_t>(factor);
    if (!AlignedUpsampling(params_.sampling, upsample)) return refuse("shifts the output grid against the input's");
    geometry.upsample[a] = upsample;
  }
  return geometry;
}

StatusOr<std::vector<Tensor>> Resize::Backward(std::span<const Tensor> inputs, std::span<const Tensor> /*outputs*/,
                                               std::span<const Tensor> output_grads,
                                               std::span<const bool> /*needed*/) const {
  if (inputs.empty() || output_grads.empty()) return InvalidArgument(std::string(type()) + " backward needs X and dY");
  FOVEA_ASSIGN_OR_RETURN(Arguments arguments, ReadArguments(inputs));
  FOVEA_ASSIGN_OR_RETURN(ResizeTaps taps, Taps(inputs[0].shape(), arguments));
  if (output_grads[0].shape() != taps.output) {
    return InvalidArgument("dY " + ShapeToString(output_grads[0].shape()) + " does not match Y " +
                           ShapeToString(taps.output));
  }
  // Resizing is linear in X: the gradient spreads each dY element back over the input taps it read, with their weights.
  std::vector<Tensor> grads(inputs.size());
  grads[0] = Tensor(DataType::kFloat32, inputs[0].shape());
  ResizeBackward(taps, output_grads[0].data<float>(), grads[0].data<float>());
  return grads;
}

}  // namespace fovea::engine::ops
