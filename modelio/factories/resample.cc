#include "modelio/factories/resample.h"

#include <map>
#include <string>

#include "engine/ops/conv_transpose.h"
#include "engine/ops/resize.h"

namespace fovea::modelio {
namespace {

namespace ops = engine::ops;

// Opsets at which the Resize family changed form.
constexpr int64_t kUpsampleScalesInputOpset = 9;  // Upsample-7's scales attribute became an input
constexpr int64_t kResizeRoiOpset = 11;           // Resize gained roi, sizes and the coordinate transformations
constexpr float kDefaultCubicCoeffA = -0.75f;

// One of `choices` named by the string attribute `name`, or an error listing them.
template <typename T>
StatusOr<T> EnumAttribute(const onnx::NodeProto& node, const std::string& name, const std::string& fallback,
                          const std::map<std::string, T>& choices) {
  FOVEA_ASSIGN_OR_RETURN(std::string value, StringAttribute(node, name, fallback));
  const auto it = choices.find(value);
  if (it != choices.end()) return it->second;
  std::string supported;
  for (const auto& [choice, unused] : choices) supported += (supported.empty() ? "" : ", ") + choice;
  return Unimplemented(name + " '" + value + "' is not supported; supported: " + supported);
}

StatusOr<ops::ResizeMode> ModeAttribute(const onnx::NodeProto& node, bool cubic) {
  std::map<std::string, ops::ResizeMode> modes = {{"nearest", ops::ResizeMode::kNearest},
                                                  {"linear", ops::ResizeMode::kLinear}};
  if (cubic) modes["cubic"] = ops::ResizeMode::kCubic;
  return EnumAttribute(node, "mode", "nearest", modes);
}

// Upsample and Resize-10 sample as Upsample always did: output pixel o reads input coordinate o / scale, and nearest
// takes its floor (the integer upsampling ONNX's Upsample tests expect).
ops::SamplingParams LegacySampling(ops::ResizeMode mode) {
  ops::SamplingParams sampling;
  sampling.mode = mode;
  sampling.transform = ops::CoordinateTransform::kAsymmetric;
  sampling.rounding = ops::NearestRounding::kFloor;
  return sampling;
}

StatusOr<ops::SamplingParams> Resize11Sampling(const onnx::NodeProto& node) {
  using Transform = ops::CoordinateTransform;
  using Rounding = ops::NearestRounding;
  ops::SamplingParams s;
  FOVEA_ASSIGN_OR_RETURN(s.mode, ModeAttribute(node, /*cubic=*/true));
  FOVEA_ASSIGN_OR_RETURN(s.transform, EnumAttribute(node, "coordinate_transformation_mode", "half_pixel",
                                                    std::map<std::string, Transform>{
                                                        {"half_pixel", Transform::kHalfPixel},
                                                        {"pytorch_half_pixel", Transform::kPytorchHalfPixel},
                                                        {"align_corners", Transform::kAlignCorners},
                                                        {"asymmetric", Transform::kAsymmetric},
                                                        {"tf_half_pixel_for_nn", Transform::kTfHalfPixelForNn},
                                                        {"tf_crop_and_resize", Transform::kTfCropAndResize},
                                                    }));
  FOVEA_ASSIGN_OR_RETURN(s.rounding, EnumAttribute(node, "nearest_mode", "round_prefer_floor",
                                                   std::map<std::string, Rounding>{
                                                       {"round_prefer_floor", Rounding::kRoundPreferFloor},
                                                       {"round_prefer_ceil", Rounding::kRoundPreferCeil},
                                                       {"floor", Rounding::kFloor},
                                                       {"ceil", Rounding::kCeil},
                                                   }));
  FOVEA_ASSIGN_OR_RETURN(s.cubic_coeff_a, FloatAttribute(node, "cubic_coeff_a", kDefaultCubicCoeffA));
  FOVEA_ASSIGN_OR_RETURN(int64_t exclude_outside, IntAttribute(node, "exclude_outside", 0));
  s.exclude_outside = exclude_outside != 0;
  FOVEA_ASSIGN_OR_RETURN(s.extrapolation_value, FloatAttribute(node, "extrapolation_value", 0.0f));
  return s;
}

}  // namespace

OpResult CreateResize(const onnx::NodeProto& node, int64_t opset) {
  ops::ResizeParams params;
  if (opset < kResizeRoiOpset) {
    params.inputs = ops::ResizeInputs::kScales;
    FOVEA_ASSIGN_OR_RETURN(ops::ResizeMode mode, ModeAttribute(node, /*cubic=*/false));
    params.sampling = LegacySampling(mode);
  } else {
    params.inputs = ops::ResizeInputs::kRoiScalesSizes;
    FOVEA_ASSIGN_OR_RETURN(params.sampling, Resize11Sampling(node));
  }
  return Share(ops::Resize::Create(params));
}

OpResult CreateUpsample(const onnx::NodeProto& node, int64_t opset) {
  ops::ResizeParams params;
  params.upsample = true;
  FOVEA_ASSIGN_OR_RETURN(ops::ResizeMode mode, ModeAttribute(node, /*cubic=*/false));
  params.sampling = LegacySampling(mode);
  if (opset < kUpsampleScalesInputOpset) {
    params.inputs = ops::ResizeInputs::kScalesAttribute;
    const onnx::AttributeProto* scales = FindAttribute(node, "scales");
    if (scales == nullptr || scales->type() != onnx::AttributeProto::FLOATS) {
      return InvalidArgument("attribute 'scales' (floats) is required before opset 9");
    }
    params.scales.assign(scales->floats().begin(), scales->floats().end());
  } else {
    params.inputs = ops::ResizeInputs::kScales;
  }
  return Share(ops::Resize::Create(params));
}

OpResult CreateConvTranspose(const onnx::NodeProto& node, int64_t) {
  ops::ConvTransposeParams params;
  FOVEA_ASSIGN_OR_RETURN(params.window, WindowFromAttributes(node, /*read_ceil_mode=*/false));
  FOVEA_ASSIGN_OR_RETURN(params.group, IntAttribute(node, "group", 1));
  FOVEA_ASSIGN_OR_RETURN(params.output_padding, IntsAttribute(node, "output_padding"));
  FOVEA_ASSIGN_OR_RETURN(params.output_shape, IntsAttribute(node, "output_shape"));
  return Share(ops::ConvTranspose::Create(params));
}

}  // namespace fovea::modelio
