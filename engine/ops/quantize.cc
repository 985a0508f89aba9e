#include "engine/ops/quantize.h"

#include <algorithm>
#include <cmath>

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

constexpr int32_t kUint8Min = 0, kUint8Max = 255;
constexpr int32_t kInt8Min = -128, kInt8Max = 127;

bool IsQuantizedType(DataType type) { return type == DataType::kUint8 || type == DataType::kInt8; }

int32_t ElementAsInt(const Tensor& t, int64_t i) {
  return t.dtype() == DataType::kUint8 ? static_cast<int32_t>(t.data<uint8_t>()[i])
                                       : static_cast<int32_t>(t.data<int8_t>()[i]);
}

// The slice (index along the quantization axis) element `i` of a plain tensor belongs to.
size_t SliceOf(const QuantizationSlices& s, int64_t i) {
  if (s.per_tensor()) return 0;
  return static_cast<size_t>((i / s.inner) % static_cast<int64_t>(s.scales.size()));
}

// Scale and zero point inputs must be known when the plan is built: they are attributes of the oneDNN reorder.
StatusOr<QuantizationSlices> ConstantSlices(std::span<const PlanValue> inputs, int64_t axis) {
  if (inputs.size() < 2 || !inputs[0].present() || !inputs[1].is_constant()) {
    return Unimplemented("quantization scales must be constants (initializers)");
  }
  const bool has_zero_point = inputs.size() > 2 && inputs[2].present();
  if (has_zero_point && !inputs[2].is_constant()) return Unimplemented("zero points must be constants (initializers)");
  return ResolveQuantization(inputs[0].shape, *inputs[1].constant, has_zero_point ? &*inputs[2].constant : nullptr,
                             axis);
}

// The reorder attributes applying `scales` (one per tensor or per axis index) and a per-tensor zero point on `arg`.
StatusOr<dnnl::primitive_attr> ReorderAttr(const PlanBuilder& builder, const QuantizationSlices& s,
                                           const std::vector<float>& scales, int zero_point_arg) {
  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_output_scales(s.per_tensor() ? 0 : 1 << s.axis, scales);
  if (!s.zero_points_are_zero()) {
    const bool uniform =
        std::all_of(s.zero_points.begin(), s.zero_points.end(), [&](int32_t z) { return z == s.zero_points.front(); });
    if (!uniform) return Unimplemented("per-axis zero points that differ are only supported on constants");
    attr.set_zero_points(zero_point_arg, 0, {s.zero_points.front()});
  }
  return attr;
}

// One reorder from `x` into a new value of the same layout with elements of `type`, under `attr`.
PlanValue EmitConvertingReorder(PlanBuilder& builder, const PlanValue& x, memory::data_type type,
                                const dnnl::primitive_attr& attr) {
  const memory::desc dst_desc = WithDataType(x.desc, type);
  auto pd = dnnl::reorder::primitive_desc(builder.engine(), x.desc, builder.engine(), dst_desc, attr);
  PlanValue y = builder.NewValue(x.shape, dst_desc);
  builder.AddStep(dnnl::reorder(pd), {{DNNL_ARG_FROM, x.id, {}}, {DNNL_ARG_TO, y.id, {}}}, pd.scratchpad_desc());
  return y;
}

}  // namespace

bool QuantizationSlices::zero_points_are_zero() const {
  return std::all_of(zero_points.begin(), zero_points.end(), [](int32_t z) { return z == 0; });
}

StatusOr<QuantizationSlices> ResolveQuantization(const Shape& x, const Tensor& scale, const Tensor* zero_point,
                                                 int64_t axis) {
  if (scale.dtype() != DataType::kFloat32 || scale.rank() > 1) {
    return InvalidArgument("scale must be a float32 scalar or 1-D tensor, got " +
                           std::string(DataTypeName(scale.dtype())) + " " + ShapeToString(scale.shape()));
  }
  QuantizationSlices s;
  const int64_t count = scale.num_elements();
  if (scale.rank() == 1) {
    const auto rank = static_cast<int64_t>(x.size());
    s.axis = axis < 0 ? axis + rank : axis;
    if (s.axis < 0 || s.axis >= rank) return InvalidArgument("axis " + std::to_string(axis) + " is out of range");
    if (x[static_cast<size_t>(s.axis)] != count) {
      return InvalidArgument("a 1-D scale of " + std::to_string(count) + " values needs dimension " +
                             std::to_string(s.axis) + " of X " + ShapeToString(x) + " to match");
    }
    for (size_t d = static_cast<size_t>(s.axis) + 1; d < x.size(); ++d) s.inner *= x[d];
  } else if (count != 1) {
    return InvalidArgument("scale must hold one value per tensor or per axis index");
  }
  for (int64_t i = 0; i < count; ++i) {
    const float v = scale.data<float>()[i];
    if (!(v > 0.0f) || !std::isfinite(v)) return InvalidArgument("scales must be positive and finite");
    s.scales.push_back(v);
  }
  if (zero_point == nullptr || !zero_point->has_data()) {
    s.zero_points.assign(static_cast<size_t>(count), 0);
    return s;
  }
  if (!IsQuantizedType(zero_point->dtype()) || zero_point->num_elements() != count) {
    return InvalidArgument("zero_point must be uint8 or int8 with as many values as scale");
  }
  s.quantized_type = zero_point->dtype();
  for (int64_t i = 0; i < count; ++i) s.zero_points.push_back(ElementAsInt(*zero_point, i));
  return s;
}

int32_t QuantizeValue(float x, float scale, int32_t zero_point, DataType type) {
  // nearbyint rounds half to even in the default floating-point environment, as ONNX specifies.
  const float q = std::nearbyint(x / scale) + static_cast<float>(zero_point);
  const bool is_unsigned = type == DataType::kUint8;
  const float low = static_cast<float>(is_unsigned ? kUint8Min : kInt8Min);
  const float high = static_cast<float>(is_unsigned ? kUint8Max : kInt8Max);
  if (std::isnan(q)) return 0;
  return static_cast<int32_t>(std::clamp(q, low, high));
}

Tensor QuantizeTensor(const Tensor& x, const QuantizationSlices& s) {
  Tensor y(s.quantized_type, x.shape());
  for (int64_t i = 0; i < x.num_elements(); ++i) {
    const size_t k = SliceOf(s, i);
    const int32_t q = QuantizeValue(x.data<float>()[i], s.scales[k], s.zero_points[k], s.quantized_type);
    if (s.quantized_type == DataType::kUint8) {
      y.data<uint8_t>()[i] = static_cast<uint8_t>(q);
    } else {
      y.data<int8_t>()[i] = static_cast<int8_t>(q);
    }
  }
  return y;
}

Tensor DequantizeTensor(const Tensor& q, const QuantizationSlices& s) {
  Tensor y(DataType::kFloat32, q.shape());
  for (int64_t i = 0; i < q.num_elements(); ++i) {
    const size_t k = SliceOf(s, i);
    y.data<float>()[i] = static_cast<float>(ElementAsInt(q, i) - s.zero_points[k]) * s.scales[k];
  }
  return y;
}

memory::data_type DnnlQuantizedType(DataType type) {
  return type == DataType::kInt8 ? memory::data_type::s8 : memory::data_type::u8;
}

StatusOr<std::unique_ptr<QuantizeLinear>> QuantizeLinear::Create(const QuantizeParams& params) {
  return std::unique_ptr<QuantizeLinear>(new QuantizeLinear(params));
}

StatusOr<std::vector<Tensor>> QuantizeLinear::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("QuantizeLinear needs x and y_scale");
  }
  if (inputs[0].dtype() != DataType::kFloat32) return InvalidArgument("QuantizeLinear x must be float32");
  const Tensor* zero_point = inputs.size() > 2 && inputs[2].has_data() ? &inputs[2] : nullptr;
  FOVEA_ASSIGN_OR_RETURN(auto slices, ResolveQuantization(inputs[0].shape(), inputs[1], zero_point, params_.axis));
  return std::vector<Tensor>{QuantizeTensor(inputs[0], slices)};
}

StatusOr<std::vector<PlanValue>> QuantizeLinear::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  FOVEA_ASSIGN_OR_RETURN(auto slices, ConstantSlices(inputs, params_.axis));
  std::vector<float> inverse;
  for (float scale : slices.scales) inverse.push_back(1.0f / scale);
  FOVEA_ASSIGN_OR_RETURN(auto attr, ReorderAttr(builder, slices, inverse, DNNL_ARG_DST));
  PlanValue y = EmitConvertingReorder(builder, inputs[0], DnnlQuantizedType(slices.quantized_type), attr);
  y.dtype = slices.quantized_type;
  return std::vector<PlanValue>{y};
}

StatusOr<std::unique_ptr<DequantizeLinear>> DequantizeLinear::Create(const QuantizeParams& params) {
  return std::unique_ptr<DequantizeLinear>(new DequantizeLinear(params));
}

StatusOr<std::vector<Tensor>> DequantizeLinear::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("DequantizeLinear needs x and x_scale");
  }
  if (!IsQuantizedType(inputs[0].dtype())) return InvalidArgument("DequantizeLinear x must be uint8 or int8");
  const Tensor* zero_point = inputs.size() > 2 && inputs[2].has_data() ? &inputs[2] : nullptr;
  if (zero_point != nullptr && zero_point->dtype() != inputs[0].dtype()) {
    return InvalidArgument("x_zero_point must have x's type");
  }
  FOVEA_ASSIGN_OR_RETURN(auto slices, ResolveQuantization(inputs[0].shape(), inputs[1], zero_point, params_.axis));
  return std::vector<Tensor>{DequantizeTensor(inputs[0], slices)};
}

StatusOr<std::vector<PlanValue>> DequantizeLinear::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  FOVEA_ASSIGN_OR_RETURN(auto slices, ConstantSlices(inputs, params_.axis));
  FOVEA_ASSIGN_OR_RETURN(auto attr, ReorderAttr(builder, slices, slices.scales, DNNL_ARG_SRC));
  return std::vector<PlanValue>{EmitConvertingReorder(builder, inputs[0], memory::data_type::f32, attr)};
}

}  // namespace fovea::engine::ops
