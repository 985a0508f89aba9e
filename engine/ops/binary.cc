#include "engine/ops/binary.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <type_traits>
#include <utility>

namespace fovea::engine::ops {
namespace {

using dnnl::memory;
using Kind = BinaryParams::Kind;

// base^exponent on integers; negative exponents truncate toward zero as integer division would.
template <typename T>
T IntegerPow(T base, T exponent) {
  if constexpr (std::is_signed_v<T>) {
    if (exponent < 0) {
      if (base == 1) return 1;
      if (base == -1) return exponent % 2 == 0 ? T{1} : T{-1};
      return 0;
    }
  }
  T result = 1;
  for (; exponent > 0; exponent = static_cast<T>(exponent / 2)) {
    if (exponent % 2 != 0) result = static_cast<T>(result * base);
    base = static_cast<T>(base * base);
  }
  return result;
}

template <typename T>
T Apply(Kind kind, T a, T b) {
  switch (kind) {
    case Kind::kAdd:
      return static_cast<T>(a + b);
    case Kind::kSub:
      return static_cast<T>(a - b);
    case Kind::kMul:
      return static_cast<T>(a * b);
    case Kind::kDiv:
      return static_cast<T>(a / b);
    case Kind::kPow:
      if constexpr (std::is_floating_point_v<T>) {
        return std::pow(a, b);
      } else {
        return IntegerPow(a, b);
      }
    case Kind::kMin:
      return std::min(a, b);
    case Kind::kMax:
      return std::max(a, b);
  }
  return a;
}

// y = A (op) B over y's (broadcast) shape: the reference kernel, and the host step of Pow.
template <typename T>
Status Compute(Kind kind, const Tensor& a, const Tensor& b, Tensor& y) {
  if (kind == Kind::kDiv && std::is_integral_v<T>) {
    for (T v : std::span<const T>(b.data<T>(), static_cast<size_t>(b.num_elements()))) {
      if (v == 0) return InvalidArgument("integer division by zero");
    }
  }
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* yp = y.data<T>();
  ForEachBroadcast(y.shape(), a.shape(), b.shape(),
                   [&](int64_t flat, int64_t ia, int64_t ib) { yp[flat] = Apply<T>(kind, ap[ia], bp[ib]); });
  return OkStatus();
}

Status ComputeOfType(Kind kind, const Tensor& a, const Tensor& b, Tensor& y) {
  switch (y.dtype()) {
    case DataType::kFloat32:
      return Compute<float>(kind, a, b, y);
    case DataType::kInt64:
      return Compute<int64_t>(kind, a, b, y);
    case DataType::kUint8:
      return Compute<uint8_t>(kind, a, b, y);
    case DataType::kInt8:
      return Compute<int8_t>(kind, a, b, y);
    case DataType::kBool:
      break;
  }
  return InvalidArgument(std::string("arithmetic on ") + DataTypeName(y.dtype()) + " tensors is not supported");
}

template <typename T>
void CopyAsFloats(const Tensor& t, std::span<float> out) {
  const T* p = t.data<T>();
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(p[i]);
}

// `t` converted to float32 (Pow's exponent may be an integer tensor).
Tensor AsFloats(const Tensor& t) {
  if (t.dtype() == DataType::kFloat32) return t;
  Tensor f(DataType::kFloat32, t.shape());
  switch (t.dtype()) {
    case DataType::kInt64:
      CopyAsFloats<int64_t>(t, f.floats());
      break;
    case DataType::kUint8:
      CopyAsFloats<uint8_t>(t, f.floats());
      break;
    case DataType::kInt8:
    case DataType::kBool:  // one byte per value, 0 or 1
      CopyAsFloats<int8_t>(t, f.floats());
      break;
    case DataType::kFloat32:
      break;
  }
  return f;
}

// d(A op B)/dA and d(A op B)/dB at one pair of elements.
std::pair<double, double> Partials(Kind kind, double a, double b) {
  switch (kind) {
    case Kind::kAdd:
      return {1.0, 1.0};
    case Kind::kSub:
      return {1.0, -1.0};
    case Kind::kMul:
      return {b, a};
    case Kind::kDiv:
      return {1.0 / b, -a / (b * b)};
    case Kind::kPow:
      return {b * std::pow(a, b - 1.0), a > 0.0 ? std::pow(a, b) * std::log(a) : 0.0};
    case Kind::kMin:
      return a <= b ? std::pair{1.0, 0.0} : std::pair{0.0, 1.0};
    case Kind::kMax:
      return a >= b ? std::pair{1.0, 0.0} : std::pair{0.0, 1.0};
  }
  return {0.0, 0.0};
}

dnnl::algorithm Algorithm(Kind kind) {
  switch (kind) {
    case Kind::kAdd:
      return dnnl::algorithm::binary_add;
    case Kind::kSub:
      return dnnl::algorithm::binary_sub;
    case Kind::kMul:
      return dnnl::algorithm::binary_mul;
    case Kind::kDiv:
      return dnnl::algorithm::binary_div;
    case Kind::kMin:
      return dnnl::algorithm::binary_min;
    case Kind::kMax:
      return dnnl::algorithm::binary_max;
    case Kind::kPow:
      break;  // not a oneDNN binary algorithm: EmitPow
  }
  return dnnl::algorithm::binary_add;
}

// `value` as an operand of rank `rank`: runtime values already at that rank keep their layout; others become plain.
PlanValue AtRank(PlanBuilder& builder, const PlanValue& value, size_t rank) {
  const Shape padded = PadRank(value.shape, rank);
  if (padded == value.shape && !value.is_constant()) return value;
  return builder.Alias(builder.Plain(value), padded);
}

// src1's layout for a step whose src0 has `src0_desc`. An operand of the same shape reads in src0's layout, so blocked
// layouts flow through without plain copies. A broadcast operand (a squeeze-excitation's [1, C, 1, 1] scale against a
// [N, C, H, W] map) takes src0's format tag too: oneDNN 2.6's jit binary broadcasts only an operand in src0's format
// and runs every other pair on its reference kernel, which took 125 ms for one 1x144x56x56 product on AVX2 (0.1 ms
// with matching formats). The operand is small, so reordering it costs little.
memory::desc Src1Desc(const memory::desc& src0_desc, const Shape& src0_shape, const Shape& src1_shape) {
  if (src1_shape == src0_shape) return src0_desc;
  constexpr size_t kImageRank = 4;
  if (src0_shape.size() == kImageRank && src1_shape.size() == kImageRank) {
    for (auto tag : {memory::format_tag::aBcd8b, memory::format_tag::aBcd16b, memory::format_tag::acdb}) {
      if (src0_desc == memory::desc(src0_desc.dims(), memory::data_type::f32, tag)) {
        return memory::desc(ToDims(src1_shape), memory::data_type::f32, tag);
      }
    }
  }
  return PlainDesc(src1_shape);
}

// One oneDNN binary step: y = src0 (op) src1, where src0 has the full output shape. `negate` flips the sign of the
// result (for A - B computed as -(B - A)).
PlanValue EmitStep(PlanBuilder& builder, Kind kind, const PlanValue& src0, const PlanValue& src1, bool negate) {
  // Binary arithmetic is float32; a bf16 operand (from a bf16 convolution) is converted by the Arg reorder.
  const memory::desc src0_desc =
      src0.is_constant() ? PlainDesc(src0.shape) : WithDataType(src0.desc, memory::data_type::f32);
  const memory::desc src1_desc = Src1Desc(src0_desc, src0.shape, src1.shape);
  dnnl::primitive_attr attr = builder.DefaultAttr();
  if (negate) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, -1.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  auto desc = dnnl::binary::desc(Algorithm(kind), src0_desc, src1_desc, src0_desc);
  auto pd = dnnl::binary::primitive_desc(desc, attr, builder.engine());
  PlanValue y = builder.NewValue(src0.shape, pd.dst_desc());
  builder.AddStep(dnnl::binary(pd),
                  {builder.Arg(DNNL_ARG_SRC_0, src0, pd.src0_desc()),
                   builder.Arg(DNNL_ARG_SRC_1, src1, pd.src1_desc()),
                   {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return y;
}

Tensor FromDoubles(const std::vector<double>& values, const Shape& shape) {
  Tensor t(DataType::kFloat32, shape);
  std::copy(values.begin(), values.end(), t.data<float>());
  return t;
}

}  // namespace

std::string_view BinaryName(BinaryParams::Kind kind) {
  switch (kind) {
    case Kind::kAdd:
      return "Add";
    case Kind::kSub:
      return "Sub";
    case Kind::kMul:
      return "Mul";
    case Kind::kDiv:
      return "Div";
    case Kind::kPow:
      return "Pow";
    case Kind::kMin:
      return "Min";
    case Kind::kMax:
      return "Max";
  }
  return "Binary";
}

StatusOr<std::unique_ptr<Binary>> Binary::Create(const BinaryParams& params) {
  return std::unique_ptr<Binary>(new Binary(params));
}

StatusOr<std::vector<Tensor>> Binary::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument(std::string(type()) + " needs A and B");
  }
  const Tensor& a = inputs[0];
  Tensor b = inputs[1];
  // Pow's exponent may be of another type (opset 12); a float base takes it as float.
  if (params_.kind == Kind::kPow && a.dtype() == DataType::kFloat32) b = AsFloats(b);
  if (a.dtype() != b.dtype()) {
    return InvalidArgument(std::string("A is ") + DataTypeName(a.dtype()) + " but B is " + DataTypeName(b.dtype()));
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(a.shape(), b.shape()));
  Tensor y(a.dtype(), out);
  FOVEA_RETURN_IF_ERROR(ComputeOfType(params_.kind, a, b, y));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Binary::EmitPow(PlanBuilder& builder, const PlanValue& a, const PlanValue& b,
                                                 const Shape& out) const {
  if (a.dtype != DataType::kFloat32) {
    return Unimplemented(std::string("Pow of a ") + DataTypeName(a.dtype) +
                         " base by a runtime exponent: runtime values are float32");
  }
  PlanValue exponent = b;
  if (b.is_constant()) {
    exponent = PlanValue::Constant(AsFloats(*b.constant));
    if (exponent.shape == Shape{} || NumElements(exponent.shape) == 1) {
      if (!a.is_constant()) {
        // pow(x, e) = 1 · x^e: oneDNN's eltwise pow.
        const float e = exponent.constant->data<float>()[0];
        const auto desc = dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::eltwise_pow,
                                                      a.desc, 1.0f, e);
        const auto pd = dnnl::eltwise_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
        PlanValue y = builder.NewValue(a.shape, pd.dst_desc());
        builder.AddStep(dnnl::eltwise_forward(pd), {builder.Arg(DNNL_ARG_SRC, a), {DNNL_ARG_DST, y.id, {}}},
                        pd.scratchpad_desc());
        if (y.shape != out) y = builder.Alias(builder.Plain(y), out);
        return std::vector<PlanValue>{y};
      }
    }
  } else if (b.dtype != DataType::kFloat32) {
    return Unimplemented("Pow with a runtime exponent needs it float32");
  }
  HostKernel kernel = [](std::span<const Tensor> in, std::span<Tensor> outputs) {
    return Compute<float>(Kind::kPow, in[0], in[1], outputs[0]);
  };
  const PlanValue operands[] = {a, exponent};
  return builder.AddHostStep(std::move(kernel), operands, {out}, {DataType::kFloat32});
}

StatusOr<std::vector<PlanValue>> Binary::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() != 2 || !inputs[0].present() || !inputs[1].present()) {
    return InvalidArgument(std::string(type()) + " needs A and B");
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(inputs[0].shape, inputs[1].shape));
  if (params_.kind == Kind::kPow) return EmitPow(builder, inputs[0], inputs[1], out);
  if (inputs[0].dtype != DataType::kFloat32 || inputs[1].dtype != DataType::kFloat32) {
    return Unimplemented(std::string(type()) + " on runtime values needs float32 operands");
  }
  const Shape full = PadRank(out, out.size());
  PlanValue a = AtRank(builder, inputs[0], out.size());
  PlanValue b = AtRank(builder, inputs[1], out.size());
  const bool commutative = params_.kind != Kind::kSub && params_.kind != Kind::kDiv;
  bool negate = false;
  // oneDNN broadcasts only src1, so src0 must already have the output shape.
  // Prefer a runtime, full-shape operand as src0: its layout then carries through to the output.
  const bool b_is_better_src0 = b.shape == full && !b.is_constant() && (a.shape != full || a.is_constant());
  if (b_is_better_src0 && (commutative || params_.kind == Kind::kSub)) {
    std::swap(a, b);
    negate = params_.kind == Kind::kSub;
  } else if (a.shape != full) {
    // Materialize A at the full shape (0 + A) so that it can be src0: Div, and operands that both broadcast.
    const PlanValue zeros = PlanValue::Constant(Tensor(DataType::kFloat32, full));
    a = EmitStep(builder, Kind::kAdd, zeros, a, /*negate=*/false);
  }
  PlanValue y = EmitStep(builder, params_.kind, a, b, negate);
  if (y.shape != out) y = builder.Alias(builder.Plain(y), out);
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<Tensor>> Binary::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                               std::span<const Tensor> output_grads,
                                               std::span<const bool> /*needed*/) const {
  if (inputs.size() != 2 || !inputs[0].has_data() || !inputs[1].has_data() || output_grads.empty()) {
    return InvalidArgument(std::string(type()) + " backward needs A, B and dY");
  }
  const Tensor& a = inputs[0];
  const Tensor b = params_.kind == Kind::kPow ? AsFloats(inputs[1]) : inputs[1];
  if (a.dtype() != DataType::kFloat32 || b.dtype() != DataType::kFloat32) {
    return InvalidArgument(std::string(type()) + " backward needs float32 operands");
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(a.shape(), b.shape()));
  const Tensor& dy = output_grads[0];
  if (dy.shape() != out) return InvalidArgument("dY is " + ShapeToString(dy.shape()) + ", not " + ShapeToString(out));
  std::vector<double> da(static_cast<size_t>(a.num_elements()), 0.0), db(static_cast<size_t>(b.num_elements()), 0.0);
  const float* ap = a.data<float>();
  const float* bp = b.data<float>();
  const float* g = dy.data<float>();
  ForEachBroadcast(out, a.shape(), b.shape(), [&](int64_t flat, int64_t ia, int64_t ib) {
    const auto [pa, pb] = Partials(params_.kind, ap[ia], bp[ib]);
    da[ia] += g[flat] * pa;
    db[ib] += g[flat] * pb;
  });
  return std::vector<Tensor>{FromDoubles(da, a.shape()), FromDoubles(db, b.shape())};
}

}  // namespace fovea::engine::ops
