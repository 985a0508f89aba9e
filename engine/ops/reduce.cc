#include "engine/ops/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "engine/ops/reduce_axes.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;
using Kind = ReduceKind;

constexpr int64_t kImageRank = 4;
constexpr int64_t kChannelAxis = 1;
constexpr int64_t kHeightAxis = 2;
constexpr int64_t kWidthAxis = 3;
constexpr float kL1Power = 1.0f;
constexpr float kL2Power = 2.0f;
constexpr size_t kAxesInput = 1;
// The index of the binary post-op that adds the maximum back in LogSumExp (after the log eltwise post-op).
constexpr int kAddMaxPostOp = 1;

double Initial(Kind kind) {
  switch (kind) {
    case Kind::kMax:
      return -std::numeric_limits<double>::infinity();
    case Kind::kMin:
      return std::numeric_limits<double>::infinity();
    case Kind::kProd:
      return 1.0;
    default:
      return 0.0;
  }
}

double Accumulate(Kind kind, double acc, double x) {
  switch (kind) {
    case Kind::kMax:
      return std::max(acc, x);
    case Kind::kMin:
      return std::min(acc, x);
    case Kind::kProd:
      return acc * x;
    case Kind::kL1:
      return acc + std::abs(x);
    case Kind::kL2:
    case Kind::kSumSquare:
      return acc + x * x;
    default:
      return acc + x;
  }
}

double Finish(Kind kind, double acc, int64_t count) {
  switch (kind) {
    case Kind::kMean:
      return acc / static_cast<double>(count);
    case Kind::kL2:
      return std::sqrt(acc);
    case Kind::kLogSum:
      return std::log(acc);
    default:
      return acc;
  }
}

// The reduction of `x` over `axes` into a tensor of the keep-dims shape: the one loop behind Reference.
Tensor ReduceLoop(Kind kind, const Tensor& x, const std::vector<int64_t>& axes) {
  Tensor y(DataType::kFloat32, KeepDimsShape(x.shape(), axes));
  const std::vector<int64_t> index = ReducedIndex(x.shape(), axes);
  const int64_t count = y.num_elements() == 0 ? 0 : x.num_elements() / y.num_elements();
  const auto xs = x.floats();
  // LogSumExp subtracts each group's maximum before exp() so that large inputs do not overflow.
  std::vector<double> shift(static_cast<size_t>(y.num_elements()), 0.0);
  if (kind == Kind::kLogSumExp) {
    std::fill(shift.begin(), shift.end(), Initial(Kind::kMax));
    for (size_t i = 0; i < xs.size(); ++i) shift[index[i]] = std::max<double>(shift[index[i]], xs[i]);
  }
  std::vector<double> acc(shift.size(), Initial(kind));
  for (size_t i = 0; i < xs.size(); ++i) {
    const double value = kind == Kind::kLogSumExp ? std::exp(xs[i] - shift[index[i]]) : xs[i];
    acc[index[i]] = Accumulate(kind, acc[index[i]], value);
  }
  auto ys = y.floats();
  for (size_t o = 0; o < ys.size(); ++o) {
    ys[o] = static_cast<float>(kind == Kind::kLogSumExp ? std::log(acc[o]) + shift[o] : Finish(kind, acc[o], count));
  }
  return y;
}

// The reduction of int64 `x` (shape arithmetic folded at load time, e.g. ReduceProd of a Shape) in exact integers:
// Sum, Prod, Max and Min only.
StatusOr<Tensor> ReduceInt64Loop(Kind kind, const Tensor& x, const std::vector<int64_t>& axes) {
  if (kind != Kind::kSum && kind != Kind::kProd && kind != Kind::kMax && kind != Kind::kMin) {
    return InvalidArgument("int64 data is reduced by ReduceSum, ReduceProd, ReduceMax and ReduceMin only");
  }
  Tensor y(DataType::kInt64, KeepDimsShape(x.shape(), axes));
  const std::vector<int64_t> index = ReducedIndex(x.shape(), axes);
  const int64_t initial = kind == Kind::kProd  ? 1
                          : kind == Kind::kMax ? std::numeric_limits<int64_t>::min()
                          : kind == Kind::kMin ? std::numeric_limits<int64_t>::max()
                                               : 0;
  auto* yp = y.data<int64_t>();
  std::fill(yp, yp + y.num_elements(), initial);
  const auto xs = x.int64s();
  for (size_t i = 0; i < xs.size(); ++i) {
    int64_t& acc = yp[index[i]];
    acc = kind == Kind::kProd  ? acc * xs[i]
          : kind == Kind::kMax ? std::max(acc, xs[i])
          : kind == Kind::kMin ? std::min(acc, xs[i])
                               : acc + xs[i];
  }
  return y;
}

// d(output)/d(x) for one element x of a group whose result is y (of `count` elements).
double Derivative(Kind kind, double x, double y, int64_t count) {
  switch (kind) {
    case Kind::kMean:
      return 1.0 / static_cast<double>(count);
    case Kind::kMax:
    case Kind::kMin:
      return x == y ? 1.0 : 0.0;
    case Kind::kProd:
      return y / x;
    case Kind::kL1:
      return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0);
    case Kind::kL2:
      return y > 0 ? x / y : 0.0;
    case Kind::kSumSquare:
      return 2.0 * x;
    case Kind::kLogSum:
      return std::exp(-y);
    case Kind::kLogSumExp:
      return std::exp(x - y);
    case Kind::kSum:
      break;
  }
  return 1.0;
}

struct ReductionAlgorithm {
  dnnl::algorithm algorithm;
  float p = 0.0f;
};

ReductionAlgorithm Algorithm(Kind kind) {
  switch (kind) {
    case Kind::kMean:
      return {dnnl::algorithm::reduction_mean};
    case Kind::kMax:
      return {dnnl::algorithm::reduction_max};
    case Kind::kMin:
      return {dnnl::algorithm::reduction_min};
    case Kind::kProd:
      return {dnnl::algorithm::reduction_mul};
    case Kind::kL1:
      return {dnnl::algorithm::reduction_norm_lp_sum, kL1Power};
    case Kind::kL2:
      return {dnnl::algorithm::reduction_norm_lp_sum, kL2Power};
    case Kind::kSumSquare:
      return {dnnl::algorithm::reduction_norm_lp_power_p_sum, kL2Power};
    default:
      return {dnnl::algorithm::reduction_sum};
  }
}

// One oneDNN reduction of plain `x` into a new plain value of `keep_shape`, with `post_ops` applied; `extra_args`
// bind the post-ops' operands.
PlanValue EmitReduction(PlanBuilder& builder, ReductionAlgorithm algorithm, const PlanValue& x, const Shape& keep_shape,
                        const dnnl::post_ops& post_ops = {}, std::vector<PlanArg> extra_args = {}) {
  const memory::desc dst_desc = PlainDesc(keep_shape);
  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_post_ops(post_ops);
  auto desc = dnnl::reduction::desc(algorithm.algorithm, PlainDesc(x.shape), dst_desc, algorithm.p, 0.0f);
  auto pd = dnnl::reduction::primitive_desc(desc, attr, builder.engine());
  PlanValue y = builder.NewValue(keep_shape, dst_desc);
  std::vector<PlanArg> args = {builder.Arg(DNNL_ARG_SRC, x, PlainDesc(x.shape)), {DNNL_ARG_DST, y.id, {}}};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  builder.AddStep(dnnl::reduction(pd), std::move(args), pd.scratchpad_desc());
  return y;
}

// log Σ exp(x) as max + log Σ exp(x − max): a max reduction, a binary subtract with an exp post-op, and a sum
// reduction whose post-ops take the log and add the maximum back.
PlanValue EmitLogSumExp(PlanBuilder& builder, const PlanValue& x, const Shape& keep_shape) {
  const PlanValue max = EmitReduction(builder, {dnnl::algorithm::reduction_max}, x, keep_shape);
  dnnl::post_ops exp_op;
  exp_op.append_eltwise(1.0f, dnnl::algorithm::eltwise_exp, 0.0f, 0.0f);
  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_post_ops(exp_op);
  const memory::desc x_desc = PlainDesc(x.shape);
  auto desc = dnnl::binary::desc(dnnl::algorithm::binary_sub, x_desc, max.desc, x_desc);
  auto pd = dnnl::binary::primitive_desc(desc, attr, builder.engine());
  const PlanValue shifted = builder.NewValue(x.shape, x_desc);
  builder.AddStep(
      dnnl::binary(pd),
      {builder.Arg(DNNL_ARG_SRC_0, x, x_desc), {DNNL_ARG_SRC_1, max.id, {}}, {DNNL_ARG_DST, shifted.id, {}}},
      pd.scratchpad_desc());
  dnnl::post_ops log_add;
  log_add.append_eltwise(1.0f, dnnl::algorithm::eltwise_log, 0.0f, 0.0f);
  log_add.append_binary(dnnl::algorithm::binary_add, max.desc);
  return EmitReduction(builder, {dnnl::algorithm::reduction_sum}, shifted, keep_shape, log_add,
                       {{DNNL_ARG_ATTR_MULTIPLE_POST_OP(kAddMaxPostOp) | DNNL_ARG_SRC_1, max.id, {}}});
}

// The reduction of groups of one element (every reduced axis has size 1), which oneDNN's reduction refuses: an
// elementwise step, or `x` itself where the reduction of one value is that value.
PlanValue EmitSingleElementGroups(PlanBuilder& builder, Kind kind, const PlanValue& x) {
  dnnl::algorithm algorithm;
  switch (kind) {
    case Kind::kL1:
    case Kind::kL2:
      algorithm = dnnl::algorithm::eltwise_abs;
      break;
    case Kind::kSumSquare:
      algorithm = dnnl::algorithm::eltwise_square;
      break;
    case Kind::kLogSum:
      algorithm = dnnl::algorithm::eltwise_log;
      break;
    default:
      return x;
  }
  const memory::desc desc = PlainDesc(x.shape);
  auto eltwise_desc = dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, algorithm, desc, 0.0f, 0.0f);
  auto pd = dnnl::eltwise_forward::primitive_desc(eltwise_desc, builder.DefaultAttr(), builder.engine());
  PlanValue y = builder.NewValue(x.shape, desc);
  builder.AddStep(dnnl::eltwise_forward(pd), {builder.Arg(DNNL_ARG_SRC, x, desc), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return y;
}

}  // namespace

StatusOr<std::unique_ptr<Reduce>> Reduce::Create(const ReduceParams& params) {
  if (params.axes_from_input && !params.axes.empty()) {
    return InvalidArgument("axes come from either the attribute or the input, not both");
  }
  return std::unique_ptr<Reduce>(new Reduce(params));
}

std::string_view Reduce::type() const {
  switch (params_.kind) {
    case Kind::kMean:
      return "ReduceMean";
    case Kind::kMax:
      return "ReduceMax";
    case Kind::kMin:
      return "ReduceMin";
    case Kind::kSum:
      return "ReduceSum";
    case Kind::kProd:
      return "ReduceProd";
    case Kind::kL1:
      return "ReduceL1";
    case Kind::kL2:
      return "ReduceL2";
    case Kind::kSumSquare:
      return "ReduceSumSquare";
    case Kind::kLogSum:
      return "ReduceLogSum";
    case Kind::kLogSumExp:
      return "ReduceLogSumExp";
  }
  return "Reduce";
}

StatusOr<std::optional<std::vector<int64_t>>> Reduce::ResolveAxes(int64_t rank, const Tensor& axes_input) const {
  std::vector<int64_t> axes = params_.axes;
  if (params_.axes_from_input && axes_input.has_data()) {
    if (axes_input.dtype() != DataType::kInt64) return InvalidArgument("axes must be int64");
    axes.assign(axes_input.int64s().begin(), axes_input.int64s().end());
  }
  if (axes.empty()) {
    if (params_.noop_with_empty_axes) return std::optional<std::vector<int64_t>>();
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  FOVEA_ASSIGN_OR_RETURN(auto normalized, NormalizeAxes(axes, rank));
  return std::optional<std::vector<int64_t>>(std::move(normalized));
}

StatusOr<std::vector<Tensor>> Reduce::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data() ||
      (inputs[0].dtype() != DataType::kFloat32 && inputs[0].dtype() != DataType::kInt64)) {
    return InvalidArgument(std::string(type()) + " needs float32 or int64 data");
  }
  const Tensor& x = inputs[0];
  const Tensor axes_input = inputs.size() > kAxesInput ? inputs[kAxesInput] : Tensor();
  FOVEA_ASSIGN_OR_RETURN(auto axes, ResolveAxes(x.rank(), axes_input));
  if (!axes) return std::vector<Tensor>{x};
  Tensor y;
  if (x.dtype() == DataType::kInt64) {
    FOVEA_ASSIGN_OR_RETURN(y, ReduceInt64Loop(params_.kind, x, *axes));
  } else {
    y = ReduceLoop(params_.kind, x, *axes);
  }
  if (!params_.keepdims) y = y.Reshaped(DropAxes(x.shape(), *axes)).value();
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Reduce::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present() || inputs[0].dtype != DataType::kFloat32) {
    return InvalidArgument(std::string(type()) + " needs float32 data");
  }
  Tensor axes_input;
  if (inputs.size() > kAxesInput && inputs[kAxesInput].present()) {
    if (!inputs[kAxesInput].is_constant()) {
      return Unimplemented(std::string(type()) + " needs its axes input known at load time");
    }
    axes_input = *inputs[kAxesInput].constant;
  }
  const Shape& shape = inputs[0].shape;
  FOVEA_ASSIGN_OR_RETURN(auto axes, ResolveAxes(static_cast<int64_t>(shape.size()), axes_input));
  if (!axes) return std::vector<PlanValue>{inputs[0]};
  // oneDNN has no rank-0 memory: a scalar is reduced as a one-element vector.
  const Shape src_shape = shape.empty() ? Shape{1} : shape;
  const Shape keep_shape = KeepDimsShape(src_shape, *axes);
  const PlanValue x = builder.Alias(builder.Plain(inputs[0]), src_shape);
  PlanValue y;
  if (keep_shape == src_shape) {
    y = EmitSingleElementGroups(builder, params_.kind, x);
  } else if (params_.kind == Kind::kLogSumExp) {
    y = EmitLogSumExp(builder, x, keep_shape);
  } else if (params_.kind == Kind::kLogSum) {
    dnnl::post_ops log_op;
    log_op.append_eltwise(1.0f, dnnl::algorithm::eltwise_log, 0.0f, 0.0f);
    y = EmitReduction(builder, Algorithm(params_.kind), x, keep_shape, log_op);
  } else {
    y = EmitReduction(builder, Algorithm(params_.kind), x, keep_shape);
  }
  const Shape out_shape = params_.keepdims ? KeepDimsShape(shape, *axes) : DropAxes(shape, *axes);
  return std::vector<PlanValue>{builder.Alias(y, out_shape)};
}

StatusOr<SpatialGeometry> Reduce::Geometry(std::span<const Shape> /*input_shapes*/) const {
  if (params_.axes_from_input || params_.axes.empty()) return Op::Geometry({});
  auto axes = NormalizeAxes(params_.axes, kImageRank);
  if (!axes.ok()) return axes.status();
  const auto has = [&](int64_t axis) { return std::binary_search(axes->begin(), axes->end(), axis); };
  if (has(0)) return Op::Geometry({});
  if (has(kHeightAxis) && has(kWidthAxis)) return SpatialGeometry::Global();
  if (*axes == std::vector<int64_t>{kChannelAxis} && params_.keepdims) return SpatialGeometry::Pointwise();
  return Op::Geometry({});
}

StatusOr<std::vector<Tensor>> Reduce::Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                               std::span<const Tensor> output_grads,
                                               std::span<const bool> /*needed*/) const {
  if (inputs.empty() || outputs.empty() || output_grads.empty()) {
    return InvalidArgument(std::string(type()) + " backward needs data, output and its gradient");
  }
  const Tensor& x = inputs[0];
  const Tensor axes_input = inputs.size() > kAxesInput ? inputs[kAxesInput] : Tensor();
  FOVEA_ASSIGN_OR_RETURN(auto axes, ResolveAxes(x.rank(), axes_input));
  std::vector<Tensor> grads(inputs.size());
  if (!axes) {
    grads[0] = output_grads[0].Clone();
    return grads;
  }
  if (params_.kind == Kind::kProd) {
    for (float v : x.floats()) {
      if (v == 0.0f) return Unimplemented("ReduceProd backward needs non-zero inputs");
    }
  }
  const std::vector<int64_t> index = ReducedIndex(x.shape(), *axes);
  const int64_t count = outputs[0].num_elements() == 0 ? 0 : x.num_elements() / outputs[0].num_elements();
  const auto xs = x.floats();
  const auto ys = outputs[0].floats();
  const auto dys = output_grads[0].floats();
  Tensor dx(DataType::kFloat32, x.shape());
  auto dxs = dx.floats();
  for (size_t i = 0; i < xs.size(); ++i) {
    const auto o = static_cast<size_t>(index[i]);
    dxs[i] = static_cast<float>(dys[o] * Derivative(params_.kind, xs[i], ys[o], count));
  }
  grads[0] = dx;
  return grads;
}

std::optional<Reduction> Reduce::AsReduction(std::span<const Tensor> parameters) const {
  Reduction reduction{params_.kind, params_.axes, params_.keepdims};
  if (params_.axes_from_input && !parameters.empty() && parameters[0].has_data()) {
    if (parameters[0].dtype() != DataType::kInt64) return std::nullopt;
    reduction.axes.assign(parameters[0].int64s().begin(), parameters[0].int64s().end());
  } else if (params_.axes_from_input && !parameters.empty()) {
    return std::nullopt;  // the axes are computed at run time
  }
  return reduction;
}

}  // namespace fovea::engine::ops
