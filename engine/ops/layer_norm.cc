#include "engine/ops/layer_norm.h"

#include <cmath>
#include <string>

#include "engine/ops/normalization_kernels.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

constexpr size_t kScaleInput = 1;
constexpr size_t kBiasInput = 2;
constexpr size_t kMeanOutput = 1;
constexpr size_t kInvStdOutput = 2;
// InvStdDev = (variance + epsilon)^kInvStdPower.
constexpr float kInvStdPower = -0.5f;

// X seen as [outer, inner] rows, and the shape of the statistics outputs.
struct LayerNormLayout {
  int64_t outer = 1, inner = 1;
  Shape stats_shape;
};

StatusOr<LayerNormLayout> Layout(int64_t axis_param, const Shape& x) {
  const auto rank = static_cast<int64_t>(x.size());
  if (axis_param < -rank || axis_param >= rank) {
    return InvalidArgument("LayerNormalization axis " + std::to_string(axis_param) + " is outside " + ShapeToString(x));
  }
  const int64_t axis = axis_param < 0 ? axis_param + rank : axis_param;
  LayerNormLayout layout;
  layout.outer = NumElements(Shape(x.begin(), x.begin() + axis));
  layout.inner = NumElements(Shape(x.begin() + axis, x.end()));
  layout.stats_shape = x;
  for (int64_t d = axis; d < rank; ++d) layout.stats_shape[static_cast<size_t>(d)] = 1;
  return layout;
}

// Scale and B hold one value per normalized element, or one value for all of them.
Status CheckParameter(const Shape& shape, int64_t inner, const char* name) {
  if (NumElements(shape) != inner && NumElements(shape) != 1) {
    return Unimplemented(std::string("LayerNormalization ") + name + " " + ShapeToString(shape) + " must have " +
                         std::to_string(inner) + " elements (the normalized shape) or one");
  }
  return OkStatus();
}

// Index of the parameter element applying to normalized element `c`.
size_t ParameterIndex(const Tensor& parameter, int64_t c) {
  return parameter.num_elements() == 1 ? 0 : static_cast<size_t>(c);
}

// A Scale or B input as the plain [inner] vector oneDNN reads; a one-element constant is repeated.
StatusOr<PlanValue> ParameterVector(PlanBuilder& builder, const PlanValue& value, int64_t inner) {
  if (NumElements(value.shape) == inner) return builder.Alias(builder.Plain(value), {inner});
  if (!value.is_constant()) {
    return Unimplemented("LayerNormalization needs a one-element Scale or B known at load time");
  }
  const std::vector<float> repeated(static_cast<size_t>(inner), value.constant->floats()[0]);
  return PlanValue::Constant(Tensor::FromFloats({inner}, repeated));
}

bool Present(std::span<const Tensor> inputs, size_t i) { return inputs.size() > i && inputs[i].has_data(); }
bool Present(std::span<const PlanValue> inputs, size_t i) { return inputs.size() > i && inputs[i].present(); }

// InvStdDev from oneDNN's variance: (variance + epsilon)^(-1/2) as one binary add with a pow post-op.
PlanValue EmitInvStd(PlanBuilder& builder, const PlanValue& variance, float epsilon) {
  dnnl::post_ops pow_op;
  pow_op.append_eltwise(1.0f, dnnl::algorithm::eltwise_pow, 1.0f, kInvStdPower);
  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_post_ops(pow_op);
  const PlanValue eps = PlanValue::Constant(Tensor::FromFloats({1}, std::vector<float>{epsilon}));
  auto desc = dnnl::binary::desc(dnnl::algorithm::binary_add, variance.desc, PlainDesc({1}), variance.desc);
  auto pd = dnnl::binary::primitive_desc(desc, attr, builder.engine());
  PlanValue inv_std = builder.NewValue(variance.shape, variance.desc);
  builder.AddStep(dnnl::binary(pd),
                  {{DNNL_ARG_SRC_0, variance.id, {}},
                   builder.Arg(DNNL_ARG_SRC_1, eps, PlainDesc({1})),
                   {DNNL_ARG_DST, inv_std.id, {}}},
                  pd.scratchpad_desc());
  return inv_std;
}

}  // namespace

StatusOr<std::unique_ptr<LayerNorm>> LayerNorm::Create(const LayerNormParams& params) {
  if (!(params.epsilon >= 0.0f)) return InvalidArgument("LayerNormalization epsilon must be non-negative");
  return std::unique_ptr<LayerNorm>(new LayerNorm(params));
}

StatusOr<std::vector<Tensor>> LayerNorm::Reference(std::span<const Tensor> inputs) const {
  if (!Present(inputs, 0) || !Present(inputs, kScaleInput)) {
    return InvalidArgument("LayerNormalization needs X and Scale");
  }
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(LayerNormLayout l, Layout(params_.axis, x.shape()));
  FOVEA_RETURN_IF_ERROR(CheckParameter(inputs[kScaleInput].shape(), l.inner, "Scale"));
  const bool has_bias = Present(inputs, kBiasInput);
  if (has_bias) FOVEA_RETURN_IF_ERROR(CheckParameter(inputs[kBiasInput].shape(), l.inner, "B"));
  const RowStats stats = ComputeRowStats(x.floats(), l.outer, l.inner, params_.epsilon);
  Tensor y(DataType::kFloat32, x.shape());
  Tensor mean(DataType::kFloat32, l.stats_shape), inv_std(DataType::kFloat32, l.stats_shape);
  const auto xs = x.floats();
  auto ys = y.floats();
  for (int64_t r = 0; r < l.outer; ++r) {
    const auto ri = static_cast<size_t>(r);
    mean.floats()[ri] = static_cast<float>(stats.mean[ri]);
    inv_std.floats()[ri] = static_cast<float>(stats.inv_std[ri]);
    for (int64_t c = 0; c < l.inner; ++c) {
      const auto i = static_cast<size_t>(r * l.inner + c);
      const double bias = has_bias ? inputs[kBiasInput].floats()[ParameterIndex(inputs[kBiasInput], c)] : 0.0;
      const double scale = inputs[kScaleInput].floats()[ParameterIndex(inputs[kScaleInput], c)];
      ys[i] = static_cast<float>((xs[i] - stats.mean[ri]) * stats.inv_std[ri] * scale + bias);
    }
  }
  return std::vector<Tensor>{y, mean, inv_std};
}

StatusOr<std::vector<PlanValue>> LayerNorm::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (!Present(inputs, 0) || !Present(inputs, kScaleInput)) {
    return InvalidArgument("LayerNormalization needs X and Scale");
  }
  FOVEA_ASSIGN_OR_RETURN(LayerNormLayout l, Layout(params_.axis, inputs[0].shape));
  FOVEA_RETURN_IF_ERROR(CheckParameter(inputs[kScaleInput].shape, l.inner, "Scale"));
  const bool has_bias = Present(inputs, kBiasInput);
  if (has_bias) FOVEA_RETURN_IF_ERROR(CheckParameter(inputs[kBiasInput].shape, l.inner, "B"));
  // oneDNN normalizes along the last dimension: X as plain [outer, inner] rows covers every axis.
  const Shape rows_shape = {l.outer, l.inner};
  const PlanValue x = builder.Alias(builder.Plain(inputs[0]), rows_shape);
  auto flags = dnnl::normalization_flags::use_scale;
  if (has_bias) flags |= dnnl::normalization_flags::use_shift;
  // Training propagation is what makes oneDNN write the statistics, which are the Mean and InvStdDev outputs.
  const memory::desc stats_desc = PlainDesc({l.outer});
  auto desc = dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_training, x.desc, stats_desc,
                                                      params_.epsilon, flags);
  auto pd = dnnl::layer_normalization_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
  const memory::desc param_desc = PlainDesc({l.inner});
  PlanValue y = builder.NewValue(rows_shape, pd.dst_desc());
  PlanValue mean = builder.NewValue({l.outer}, stats_desc);
  PlanValue variance = builder.NewValue({l.outer}, stats_desc);
  FOVEA_ASSIGN_OR_RETURN(PlanValue scale, ParameterVector(builder, inputs[kScaleInput], l.inner));
  std::vector<PlanArg> args = {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()),
                               builder.Arg(DNNL_ARG_SCALE, scale, param_desc),
                               {DNNL_ARG_DST, y.id, {}},
                               {DNNL_ARG_MEAN, mean.id, {}},
                               {DNNL_ARG_VARIANCE, variance.id, {}}};
  if (has_bias) {
    FOVEA_ASSIGN_OR_RETURN(PlanValue bias, ParameterVector(builder, inputs[kBiasInput], l.inner));
    args.push_back(builder.Arg(DNNL_ARG_SHIFT, bias, param_desc));
  }
  builder.AddStep(dnnl::layer_normalization_forward(pd), std::move(args), pd.scratchpad_desc());
  const PlanValue inv_std = EmitInvStd(builder, variance, params_.epsilon);
  return std::vector<PlanValue>{builder.Alias(builder.Plain(y), inputs[0].shape), builder.Alias(mean, l.stats_shape),
                                builder.Alias(inv_std, l.stats_shape)};
}

StatusOr<std::vector<Tensor>> LayerNorm::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                  std::span<const Tensor> output_grads,
                                                  std::span<const bool> /*needed*/) const {
  if (!Present(inputs, 0) || !Present(inputs, kScaleInput) || output_grads.empty()) {
    return InvalidArgument("LayerNormalization backward needs X, Scale and the gradient of Y");
  }
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(LayerNormLayout l, Layout(params_.axis, x.shape()));
  FOVEA_RETURN_IF_ERROR(CheckParameter(inputs[kScaleInput].shape(), l.inner, "Scale"));
  const RowStats stats = ComputeRowStats(x.floats(), l.outer, l.inner, params_.epsilon);
  const auto xs = x.floats();
  const Tensor& scale = inputs[kScaleInput];
  const auto dy = output_grads[0].floats();
  Tensor dscale(DataType::kFloat32, scale.shape());
  const bool has_bias = Present(inputs, kBiasInput);
  Tensor dbias(DataType::kFloat32, has_bias ? inputs[kBiasInput].shape() : Shape{l.inner});
  std::vector<double> g(xs.size());
  for (int64_t r = 0; r < l.outer; ++r) {
    for (int64_t c = 0; c < l.inner; ++c) {
      const auto i = static_cast<size_t>(r * l.inner + c);
      const double xhat = (xs[i] - stats.mean[static_cast<size_t>(r)]) * stats.inv_std[static_cast<size_t>(r)];
      g[i] = dy[i] * scale.floats()[ParameterIndex(scale, c)];
      dscale.floats()[ParameterIndex(scale, c)] += static_cast<float>(dy[i] * xhat);
      dbias.floats()[ParameterIndex(dbias, c)] += dy[i];
    }
  }
  Tensor dx(DataType::kFloat32, x.shape());
  NormalizedRowsBackward(xs, stats, g, l.inner, dx.floats());
  // Mean = Σx/n and InvStdDev = (var + ε)^(-1/2), whose derivative is −inv_std³·(x − mean)/n = −inv_std²·x̂/n.
  const bool has_mean_grad = output_grads.size() > kMeanOutput && output_grads[kMeanOutput].has_data();
  const bool has_inv_grad = output_grads.size() > kInvStdOutput && output_grads[kInvStdOutput].has_data();
  const auto n = static_cast<double>(l.inner);
  for (int64_t r = 0; (has_mean_grad || has_inv_grad) && r < l.outer; ++r) {
    const auto ri = static_cast<size_t>(r);
    const double dmean = has_mean_grad ? output_grads[kMeanOutput].floats()[ri] : 0.0;
    const double dinv = has_inv_grad ? output_grads[kInvStdOutput].floats()[ri] : 0.0;
    const double inv = stats.inv_std[ri];
    for (int64_t c = 0; c < l.inner; ++c) {
      const auto i = static_cast<size_t>(r * l.inner + c);
      const double xhat = (xs[i] - stats.mean[ri]) * inv;
      dx.floats()[i] += static_cast<float>(dmean / n - dinv * inv * inv * xhat / n);
    }
  }
  std::vector<Tensor> grads(inputs.size());
  grads[0] = dx;
  grads[kScaleInput] = dscale;
  if (has_bias) grads[kBiasInput] = dbias;
  return grads;
}

}  // namespace fovea::engine::ops
