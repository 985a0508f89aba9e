#pragma once
// ONNX QuantizeLinear and DequantizeLinear (opset 10-17): the linear quantization of float32 values to uint8/int8,
//   y = saturate(round_half_to_even(x / scale) + zero_point),   x' = (y - zero_point) * scale,
// with one scale and zero point per tensor or one per slice along `axis`. Models written by `fovea-train quantize`
// (docs/model-format.md) carry them around their convolutions, which FuseQuantizedConvs (engine/passes.h) turns into
// int8 oneDNN convolutions; standing alone they run as oneDNN reorders with scales.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct QuantizeParams {
  int64_t axis = 1;  // the axis a 1-D scale runs along (negative counts from the end)
};

// Scales and zero points resolved for one input shape: one entry per tensor, or one per index of `axis`.
struct QuantizationSlices {
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
  DataType quantized_type = DataType::kUint8;
  int64_t axis = 0;   // resolved (non-negative); meaningful when scales.size() > 1
  int64_t inner = 1;  // elements after `axis` (the stride of one axis step)

  bool per_tensor() const { return scales.size() == 1; }
  bool zero_points_are_zero() const;
};

// Reads scale (float32 scalar or 1-D) and the optional zero point (uint8/int8 of the same size; absent = uint8 0)
// for a tensor of shape `x`. InvalidArgument when sizes, dtypes or the axis disagree, or a scale is not positive.
StatusOr<QuantizationSlices> ResolveQuantization(const Shape& x, const Tensor& scale, const Tensor* zero_point,
                                                 int64_t axis);

// The quantization formula on one value, shared by the reference kernels and the quantizer (round half to even,
// saturate to the type's range).
int32_t QuantizeValue(float x, float scale, int32_t zero_point, DataType type);

// Inputs: X (float32), y_scale, optional y_zero_point. Output: Y (uint8 or int8, the zero point's type).
class QuantizeLinear final : public Op {
 public:
  static StatusOr<std::unique_ptr<QuantizeLinear>> Create(const QuantizeParams& params);

  std::string_view type() const override { return "QuantizeLinear"; }
  const QuantizeParams& params() const { return params_; }
  std::optional<QuantizationStep> AsQuantizationStep() const override { return QuantizationStep{true, params_.axis}; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }

 private:
  explicit QuantizeLinear(const QuantizeParams& params) : params_(params) {}
  QuantizeParams params_;
};

// Inputs: X (uint8 or int8), x_scale, optional x_zero_point (X's type). Output: Y (float32).
class DequantizeLinear final : public Op {
 public:
  static StatusOr<std::unique_ptr<DequantizeLinear>> Create(const QuantizeParams& params);

  std::string_view type() const override { return "DequantizeLinear"; }
  const QuantizeParams& params() const { return params_; }
  std::optional<QuantizationStep> AsQuantizationStep() const override { return QuantizationStep{false, params_.axis}; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }

 private:
  explicit DequantizeLinear(const QuantizeParams& params) : params_(params) {}
  QuantizeParams params_;
};

// Quantized-tensor helpers for the int8 convolution and the quantizer: x' = (q - zero_point) * scale elementwise.
Tensor DequantizeTensor(const Tensor& q, const QuantizationSlices& slices);
Tensor QuantizeTensor(const Tensor& x, const QuantizationSlices& slices);

// The oneDNN element type of a quantized dtype (u8 or s8).
dnnl::memory::data_type DnnlQuantizedType(DataType type);

}  // namespace fovea::engine::ops
