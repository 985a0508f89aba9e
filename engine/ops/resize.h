#pragma once
// Resizing (ONNX Resize at opsets 10, 11 and 13; Upsample at opsets 7 and 9): nearest, linear and cubic sampling in any
// number of axes with every coordinate transformation mode. Runs on oneDNN resampling where oneDNN reads exactly the
// input pixels and weights ONNX asks for (engine/ops/resize_sampling.h says when), otherwise as a host step over the
// same loops as the reference kernel.

#include <memory>
#include <span>
#include <vector>

#include "engine/op.h"
#include "engine/ops/resize_sampling.h"

namespace fovea::engine::ops {

// Where a node of the Resize family takes its parameters from.
enum class ResizeInputs {
  kScalesAttribute,  // Upsample-7: X only; ResizeParams::scales holds the attribute
  kScales,           // Upsample-9, Resize-10: X, scales
  kRoiScalesSizes,   // Resize-11 and later: X, roi, scales, sizes (each optional after X; scales or sizes given)
};

struct ResizeParams {
  bool upsample = false;  // the node is ONNX Upsample (names the op in messages)
  ResizeInputs inputs = ResizeInputs::kRoiScalesSizes;
  SamplingParams sampling;
  std::vector<float> scales;  // kScalesAttribute only: one per axis
};

// Inputs as ResizeParams::inputs says; scales and sizes must be known at plan time, roi too unless only the host
// step reads it (tf_crop_and_resize with sizes). Output: X resized.
class Resize final : public Op {
 public:
  static StatusOr<std::unique_ptr<Resize>> Create(const ResizeParams& params);

  std::string_view type() const override { return params_.upsample ? "Upsample" : "Resize"; }
  const ResizeParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // From the scales the op was created with (Upsample-7); other forms take their scales from an input the op cannot
  // see here, and callers that know it ask GeometryForScales.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override;
  // The geometry of this resize with `scales` (one per axis of a rank-4 NCHW input): integer upsampling of H and W
  // whose output grid is aligned with the input's is an upsample factor, anything else has no SpatialGeometry.
  StatusOr<SpatialGeometry> GeometryForScales(std::span<const float> scales) const;
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Resize(ResizeParams params) : params_(std::move(params)) {}

  // The parameter inputs of one call; roi is empty when absent.
  struct Arguments {
    std::vector<float> roi, scales;
    std::vector<int64_t> sizes;
  };
  // Reads the parameter inputs from `inputs` (X first; absent ones without data).
  StatusOr<Arguments> ReadArguments(std::span<const Tensor> inputs) const;
  int RoiInput() const;
  bool Crops() const { return params_.sampling.transform == CoordinateTransform::kTfCropAndResize; }
  // The taps of resizing `x` with `arguments`.
  StatusOr<ResizeTaps> Taps(const Shape& x, const Arguments& arguments) const;
  StatusOr<std::vector<PlanValue>> EmitOneDnn(PlanBuilder& builder, const PlanValue& x, const Shape& y_shape,
                                              dnnl::algorithm algorithm) const;
  ResizeParams params_;
};

}  // namespace fovea::engine::ops
