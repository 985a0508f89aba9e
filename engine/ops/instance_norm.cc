#include "engine/ops/instance_norm.h"

#include <algorithm>
#include <functional>
#include <string>

#include "engine/ops/normalization_kernels.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

constexpr size_t kNumInputs = 3;  // X, scale, B
constexpr size_t kScaleInput = 1;
constexpr size_t kBiasInput = 2;
constexpr int64_t kMinRank = 3;
// The B addition is the first (only) post-op of the scale multiplication.
constexpr int kShiftPostOp = 0;

// X seen as [N·C planes, spatial] rows.
struct InstanceLayout {
  int64_t channels = 1, planes = 1, spatial = 1;
};

StatusOr<InstanceLayout> Layout(const Shape& x, const Shape& scale, const Shape& bias) {
  if (static_cast<int64_t>(x.size()) < kMinRank) {
    return InvalidArgument("InstanceNormalization X must have rank 3 or more, X is " + ShapeToString(x));
  }
  const int64_t channels = x[1];
  if (NumElements(scale) != channels || NumElements(bias) != channels) {
    return InvalidArgument("InstanceNormalization scale " + ShapeToString(scale) + " and B " + ShapeToString(bias) +
                           " must have " + std::to_string(channels) + " elements");
  }
  InstanceLayout layout;
  layout.channels = channels;
  layout.planes = x[0] * channels;
  layout.spatial = NumElements(x) / std::max<int64_t>(layout.planes, 1);
  return layout;
}

Status CheckPresent(size_t count, const std::function<bool(size_t)>& present) {
  for (size_t i = 0; i < kNumInputs; ++i) {
    if (i >= count || !present(i)) return InvalidArgument("InstanceNormalization needs X, scale and B");
  }
  return OkStatus();
}

// [1, C, 1, ...]: a per-channel operand broadcast over X's other axes.
Shape ChannelShape(const Shape& x) {
  Shape shape(x.size(), 1);
  shape[1] = x[1];
  return shape;
}

}  // namespace

StatusOr<std::unique_ptr<InstanceNorm>> InstanceNorm::Create(const InstanceNormParams& params) {
  if (!(params.epsilon >= 0.0f)) return InvalidArgument("InstanceNormalization epsilon must be non-negative");
  return std::unique_ptr<InstanceNorm>(new InstanceNorm(params));
}

StatusOr<std::vector<Tensor>> InstanceNorm::Reference(std::span<const Tensor> inputs) const {
  FOVEA_RETURN_IF_ERROR(CheckPresent(inputs.size(), [&](size_t i) { return inputs[i].has_data(); }));
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(InstanceLayout l, Layout(x.shape(), inputs[kScaleInput].shape(), inputs[kBiasInput].shape()));
  const RowStats stats = ComputeRowStats(x.floats(), l.planes, l.spatial, params_.epsilon);
  const auto xs = x.floats();
  const auto scale = inputs[kScaleInput].floats();
  const auto bias = inputs[kBiasInput].floats();
  Tensor y(DataType::kFloat32, x.shape());
  auto ys = y.floats();
  for (int64_t p = 0; p < l.planes; ++p) {
    const auto c = static_cast<size_t>(p % l.channels);
    const auto pi = static_cast<size_t>(p);
    for (int64_t s = 0; s < l.spatial; ++s) {
      const auto i = static_cast<size_t>(p * l.spatial + s);
      ys[i] = static_cast<float>((xs[i] - stats.mean[pi]) * stats.inv_std[pi] * scale[c] + bias[c]);
    }
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> InstanceNorm::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  FOVEA_RETURN_IF_ERROR(CheckPresent(inputs.size(), [&](size_t i) { return inputs[i].present(); }));
  const Shape& shape = inputs[0].shape;
  FOVEA_ASSIGN_OR_RETURN(InstanceLayout l, Layout(shape, inputs[kScaleInput].shape, inputs[kBiasInput].shape));
  const Shape rows_shape = {l.planes, l.spatial};
  const PlanValue x = builder.Alias(builder.Plain(inputs[0]), rows_shape);
  auto norm_desc = dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, x.desc, params_.epsilon,
                                                           dnnl::normalization_flags::none);
  auto norm_pd = dnnl::layer_normalization_forward::primitive_desc(norm_desc, builder.DefaultAttr(), builder.engine());
  const PlanValue normalized = builder.NewValue(rows_shape, x.desc);
  builder.AddStep(dnnl::layer_normalization_forward(norm_pd),
                  {builder.Arg(DNNL_ARG_SRC, x), {DNNL_ARG_DST, normalized.id, {}}}, norm_pd.scratchpad_desc());

  // y = normalized·scale[c] + B[c]: one binary multiply whose post-op adds B.
  const Shape channel_shape = ChannelShape(shape);
  const memory::desc channel_desc = PlainDesc(channel_shape);
  const memory::desc data_desc = PlainDesc(shape);
  dnnl::post_ops shift;
  shift.append_binary(dnnl::algorithm::binary_add, channel_desc);
  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_post_ops(shift);
  auto desc = dnnl::binary::desc(dnnl::algorithm::binary_mul, data_desc, channel_desc, data_desc);
  auto pd = dnnl::binary::primitive_desc(desc, attr, builder.engine());
  PlanValue y = builder.NewValue(shape, data_desc);
  const PlanValue scale = builder.Alias(builder.Plain(inputs[kScaleInput]), channel_shape);
  const PlanValue bias = builder.Alias(builder.Plain(inputs[kBiasInput]), channel_shape);
  builder.AddStep(dnnl::binary(pd),
                  {builder.Arg(DNNL_ARG_SRC_0, builder.Alias(normalized, shape), data_desc),
                   builder.Arg(DNNL_ARG_SRC_1, scale, channel_desc),
                   builder.Arg(DNNL_ARG_ATTR_MULTIPLE_POST_OP(kShiftPostOp) | DNNL_ARG_SRC_1, bias, channel_desc),
                   {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<Tensor>> InstanceNorm::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                     std::span<const Tensor> output_grads,
                                                     std::span<const bool> /*needed*/) const {
  FOVEA_RETURN_IF_ERROR(CheckPresent(inputs.size(), [&](size_t i) { return inputs[i].has_data(); }));
  if (output_grads.empty()) return InvalidArgument("InstanceNormalization backward needs the gradient of Y");
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(InstanceLayout l, Layout(x.shape(), inputs[kScaleInput].shape(), inputs[kBiasInput].shape()));
  const RowStats stats = ComputeRowStats(x.floats(), l.planes, l.spatial, params_.epsilon);
  const auto xs = x.floats();
  const auto scale = inputs[kScaleInput].floats();
  const auto dy = output_grads[0].floats();
  Tensor dscale(DataType::kFloat32, inputs[kScaleInput].shape());
  Tensor dbias(DataType::kFloat32, inputs[kBiasInput].shape());
  std::vector<double> g(xs.size());
  for (int64_t p = 0; p < l.planes; ++p) {
    const auto c = static_cast<size_t>(p % l.channels);
    const auto pi = static_cast<size_t>(p);
    for (int64_t s = 0; s < l.spatial; ++s) {
      const auto i = static_cast<size_t>(p * l.spatial + s);
      g[i] = dy[i] * scale[c];
      dscale.floats()[c] += static_cast<float>(dy[i] * (xs[i] - stats.mean[pi]) * stats.inv_std[pi]);
      dbias.floats()[c] += dy[i];
    }
  }
  Tensor dx(DataType::kFloat32, x.shape());
  NormalizedRowsBackward(xs, stats, g, l.spatial, dx.floats());
  return std::vector<Tensor>{dx, dscale, dbias};
}

}  // namespace fovea::engine::ops
