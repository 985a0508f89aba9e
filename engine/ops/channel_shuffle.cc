#include "engine/ops/channel_shuffle.h"

#include <string>

#include "engine/ops/strided_view.h"

namespace fovea::engine::ops {
namespace {

constexpr int64_t kChannelAxis = 1;

Status CheckInput(const ChannelShuffleParams& params, const Shape& x) {
  if (x.size() < 2 || x[kChannelAxis] % params.groups != 0) {
    return InvalidArgument("ChannelShuffle needs [N, C, ...] with C a multiple of " + std::to_string(params.groups) +
                           ", got " + ShapeToString(x));
  }
  bool fits = params.expected_input.empty() || params.expected_input.size() == x.size();
  for (size_t d = 0; fits && d < params.expected_input.size(); ++d) {
    fits = params.expected_input[d] < 0 || params.expected_input[d] == x[d];
  }
  if (!fits) {
    return InvalidArgument("the channel shuffle expects an input of shape " + ShapeToString(params.expected_input) +
                           " (-1 = any), got " + ShapeToString(x));
  }
  return OkStatus();
}

// The shuffled tensor: a gather through the [N, C/g, g, rest] view, reshaped back to x's shape.
Tensor Shuffled(const Tensor& x, int64_t groups) {
  const Shape& s = x.shape();
  const int64_t per_group = s[kChannelAxis] / groups;
  const int64_t rest = NumElements(Shape(s.begin() + 2, s.end()));
  StridedView view = PermutedView({s[0], groups, per_group, rest}, {0, 2, 1, 3});
  return GatherView(x, view).Reshaped(s).value();
}

}  // namespace

StatusOr<std::unique_ptr<ChannelShuffle>> ChannelShuffle::Create(const ChannelShuffleParams& params) {
  if (params.groups < 1) return InvalidArgument("ChannelShuffle groups " + std::to_string(params.groups) + " < 1");
  return std::unique_ptr<ChannelShuffle>(new ChannelShuffle(params));
}

StatusOr<std::vector<Tensor>> ChannelShuffle::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("ChannelShuffle needs X");
  FOVEA_RETURN_IF_ERROR(CheckInput(params_, inputs[0].shape()));
  return std::vector<Tensor>{Shuffled(inputs[0], params_.groups)};
}

StatusOr<std::vector<PlanValue>> ChannelShuffle::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("ChannelShuffle needs X");
  const PlanValue& x = inputs[0];
  FOVEA_RETURN_IF_ERROR(CheckInput(params_, x.shape));
  // oneDNN reads the axis as [C/G, G] and writes it as [G, C/G], with G its "group size": G = C/g does ours.
  const int64_t group_size = x.shape[kChannelAxis] / params_.groups;
  auto desc = dnnl::shuffle_forward::desc(dnnl::prop_kind::forward_inference, x.desc, static_cast<int>(kChannelAxis),
                                          group_size);
  auto pd = dnnl::shuffle_forward::primitive_desc(desc, builder.engine(), builder.DefaultAttr());
  PlanValue y = builder.NewValue(x.shape, pd.dst_desc());
  y.dtype = x.dtype;
  builder.AddStep(dnnl::shuffle_forward(pd), {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<Tensor>> ChannelShuffle::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                       std::span<const Tensor> output_grads,
                                                       std::span<const bool> /*needed*/) const {
  if (inputs.empty() || output_grads.empty()) return InvalidArgument("ChannelShuffle backward needs X and dY");
  FOVEA_RETURN_IF_ERROR(CheckInput(params_, inputs[0].shape()));
  const int64_t inverse_groups = inputs[0].dim(kChannelAxis) / params_.groups;
  return std::vector<Tensor>{Shuffled(output_grads[0], inverse_groups)};
}

}  // namespace fovea::engine::ops
