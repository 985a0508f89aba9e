#pragma once
// Pad (ONNX), constant mode: PyTorch emits it for AvgPool2d (often with all-zero pads) and ZeroPad2d. Edge and reflect
// modes and negative pads (cropping) are rejected with a clear error.

#include <memory>
#include <optional>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct PadParams {
  std::vector<int64_t> pads;  // opset < 11 attribute: [x1_begin, x2_begin, ..., x1_end, x2_end, ...]; empty = input
  float value = 0.0f;         // opset < 11 attribute; later the optional constant_value input
};

// Inputs: data, optional pads (int64, known at plan time), optional constant_value (scalar, known at plan time).
// Output: data surrounded by `value`.
class Pad final : public Op {
 public:
  static StatusOr<std::unique_ptr<Pad>> Create(const PadParams& params);

  std::string_view type() const override { return "Pad"; }
  const PadParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Stride 1, each output pixel reading the input pixel `pad_begin` before it; known when the pads are an attribute or
  // a constant input.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape> input_shapes) const override;
  StatusOr<SpatialGeometry> GeometryWith(std::span<const Shape> input_shapes,
                                         std::span<const Tensor> parameters) const override;

 private:
  explicit Pad(PadParams params) : params_(std::move(params)) {}
  // Pads and fill value for data of `rank`, from the attributes or the constant inputs.
  StatusOr<PadParams> Resolve(int64_t rank, const Tensor* pads, const Tensor* value) const;
  PadParams params_;
};

}  // namespace fovea::engine::ops
