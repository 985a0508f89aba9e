#include "engine/ops/binary.h"

#include <algorithm>
#include <span>
#include <type_traits>

namespace fovea::engine::ops {
namespace {

using dnnl::memory;
using Kind = BinaryParams::Kind;

// `shape` with leading 1s up to `rank` dimensions (at least one: oneDNN has no rank-0 memory).
Shape PadRank(const Shape& shape, size_t rank) {
  const size_t target = std::max<size_t>(rank, 1);
  Shape padded(target - std::min(shape.size(), target), 1);
  padded.insert(padded.end(), shape.begin(), shape.end());
  return padded;
}

// Row-major strides of `shape` with 0 along broadcast (size-1) axes of an operand read at `out` positions.
std::vector<int64_t> BroadcastStrides(const Shape& shape, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = out.size(); i-- > 0;) {
    strides[i] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

template <typename T>
T Apply(Kind kind, T a, T b) {
  switch (kind) {
    case Kind::kAdd:
      return a + b;
    case Kind::kSub:
      return a - b;
    case Kind::kMul:
      return a * b;
    case Kind::kDiv:
      return a / b;
  }
  return a;
}

template <typename T>
Status Compute(Kind kind, const Tensor& a, const Tensor& b, Tensor& y) {
  const Shape& out = y.shape();
  const Shape pa = PadRank(a.shape(), out.size()), pb = PadRank(b.shape(), out.size());
  const Shape po = PadRank(out, out.size());
  const auto sa = BroadcastStrides(pa, po), sb = BroadcastStrides(pb, po);
  if (kind == Kind::kDiv && std::is_integral_v<T>) {
    for (T v : std::span<const T>(b.data<T>(), static_cast<size_t>(b.num_elements()))) {
      if (v == 0) return InvalidArgument("integer division by zero");
    }
  }
  std::vector<int64_t> index(po.size(), 0);
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  T* yp = y.data<T>();
  for (int64_t flat = 0; flat < y.num_elements(); ++flat) {
    int64_t ia = 0, ib = 0;
    for (size_t d = 0; d < po.size(); ++d) {
      ia += index[d] * sa[d];
      ib += index[d] * sb[d];
    }
    yp[flat] = Apply<T>(kind, ap[ia], bp[ib]);
    for (size_t d = po.size(); d-- > 0;) {
      if (++index[d] < po[d]) break;
      index[d] = 0;
    }
  }
  return OkStatus();
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
  }
  return dnnl::algorithm::binary_add;
}

// `value` as an operand of rank `rank`: runtime values already at that rank keep their layout; others become plain.
PlanValue AtRank(PlanBuilder& builder, const PlanValue& value, size_t rank) {
  const Shape padded = PadRank(value.shape, rank);
  if (padded == value.shape && !value.is_constant()) return value;
  return builder.Alias(builder.Plain(value), padded);
}

// One oneDNN binary step: y = src0 (op) src1, where src0 has the full output shape. `negate` flips the sign of the
// result (for A - B computed as -(B - A)).
PlanValue EmitStep(PlanBuilder& builder, Kind kind, const PlanValue& src0, const PlanValue& src1, bool negate) {
  // Binary arithmetic is float32; a bf16 operand (from a bf16 convolution) is converted by the Arg reorder.
  const memory::desc src0_desc =
      src0.is_constant() ? PlainDesc(src0.shape) : WithDataType(src0.desc, memory::data_type::f32);
  // An operand of the same shape reads in src0's layout, so blocked layouts flow through without plain copies.
  const memory::desc src1_desc = src1.shape == src0.shape ? src0_desc : PlainDesc(src1.shape);
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

}  // namespace

StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument("shapes " + ShapeToString(a) + " and " + ShapeToString(b) + " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

StatusOr<std::unique_ptr<Binary>> Binary::Create(const BinaryParams& params) {
  return std::unique_ptr<Binary>(new Binary(params));
}

std::string_view Binary::type() const {
  switch (params_.kind) {
    case Kind::kAdd:
      return "Add";
    case Kind::kSub:
      return "Sub";
    case Kind::kMul:
      return "Mul";
    case Kind::kDiv:
      return "Div";
  }
  return "Binary";
}

StatusOr<std::vector<Tensor>> Binary::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument(std::string(type()) + " needs A and B");
  }
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  if (a.dtype() != b.dtype()) {
    return InvalidArgument(std::string("A is ") + DataTypeName(a.dtype()) + " but B is " + DataTypeName(b.dtype()));
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(a.shape(), b.shape()));
  Tensor y(a.dtype(), out);
  if (a.dtype() == DataType::kInt64) {
    FOVEA_RETURN_IF_ERROR(Compute<int64_t>(params_.kind, a, b, y));
  } else {
    FOVEA_RETURN_IF_ERROR(Compute<float>(params_.kind, a, b, y));
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Binary::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() != 2 || !inputs[0].present() || !inputs[1].present()) {
    return InvalidArgument(std::string(type()) + " needs A and B");
  }
  if (inputs[0].dtype != DataType::kFloat32 || inputs[1].dtype != DataType::kFloat32) {
    return Unimplemented(std::string(type()) + " on runtime values needs float32 operands");
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastShapes(inputs[0].shape, inputs[1].shape));
  const Shape full = PadRank(out, out.size());
  PlanValue a = AtRank(builder, inputs[0], out.size());
  PlanValue b = AtRank(builder, inputs[1], out.size());
  const bool commutative = params_.kind == Kind::kAdd || params_.kind == Kind::kMul;
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

}  // namespace fovea::engine::ops
