#include "engine/ops/lrn.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fovea::engine::ops {
namespace {

constexpr int64_t kMinRank = 3;
constexpr int64_t kMaxRank = 5;  // oneDNN LRN handles up to 3 spatial axes

// X seen as [N, C, spatial], with each channel's window [c − before, c + after] clipped to the channels.
struct LrnLayout {
  int64_t batch = 1, channels = 1, spatial = 1;
  int64_t before = 0, after = 0;

  int64_t First(int64_t c) const { return std::max<int64_t>(0, c - before); }
  int64_t Last(int64_t c) const { return std::min(channels - 1, c + after); }
  size_t At(int64_t n, int64_t c, int64_t s) const { return static_cast<size_t>((n * channels + c) * spatial + s); }
};

StatusOr<LrnLayout> Layout(const LrnParams& params, const Shape& x) {
  const auto rank = static_cast<int64_t>(x.size());
  if (rank < kMinRank || rank > kMaxRank) {
    return Unimplemented("LRN X must have rank 3 to 5, X is " + ShapeToString(x));
  }
  LrnLayout l;
  l.batch = x[0];
  l.channels = x[1];
  l.spatial = NumElements(x) / std::max<int64_t>(l.batch * l.channels, 1);
  // ONNX: floor((size − 1)/2) channels before and ceil((size − 1)/2) after.
  l.before = (params.size - 1) / 2;
  l.after = params.size - 1 - l.before;
  return l;
}

// bias + alpha/size · Σ x² over the window of every element: the denominator before the power.
std::vector<double> WindowScales(const LrnParams& params, const LrnLayout& l, std::span<const float> x) {
  std::vector<double> scales(x.size());
  const double alpha_per_channel = static_cast<double>(params.alpha) / static_cast<double>(params.size);
  for (int64_t n = 0; n < l.batch; ++n) {
    for (int64_t c = 0; c < l.channels; ++c) {
      for (int64_t s = 0; s < l.spatial; ++s) {
        double squares = 0.0;
        for (int64_t k = l.First(c); k <= l.Last(c); ++k) squares += x[l.At(n, k, s)] * x[l.At(n, k, s)];
        scales[l.At(n, c, s)] = params.bias + alpha_per_channel * squares;
      }
    }
  }
  return scales;
}

// The one LRN loop, used by Reference and by the host step for even windows.
Status LrnLoop(const LrnParams& params, const Tensor& x, Tensor& y) {
  FOVEA_ASSIGN_OR_RETURN(LrnLayout l, Layout(params, x.shape()));
  const std::vector<double> scales = WindowScales(params, l, x.floats());
  const auto xs = x.floats();
  auto ys = y.floats();
  for (size_t i = 0; i < xs.size(); ++i) ys[i] = static_cast<float>(xs[i] / std::pow(scales[i], params.beta));
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Lrn>> Lrn::Create(const LrnParams& params) {
  if (params.size < 1) return InvalidArgument("LRN size must be at least 1, got " + std::to_string(params.size));
  return std::unique_ptr<Lrn>(new Lrn(params));
}

StatusOr<std::vector<Tensor>> Lrn::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("LRN needs X");
  Tensor y(DataType::kFloat32, inputs[0].shape());
  FOVEA_RETURN_IF_ERROR(LrnLoop(params_, inputs[0], y));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Lrn::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("LRN needs X");
  FOVEA_RETURN_IF_ERROR(Layout(params_, inputs[0].shape).status());
  if (params_.size % 2 == 0) {
    // oneDNN centres an even window one channel earlier than ONNX (which puts the extra channel after), so even
    // windows run the reference loop.
    HostKernel kernel = [params = params_](std::span<const Tensor> in, std::span<Tensor> out) {
      return LrnLoop(params, in[0], out[0]);
    };
    return builder.AddHostStep(std::move(kernel), inputs.first(1), {inputs[0].shape}, {DataType::kFloat32});
  }
  // A runtime X keeps its producer's layout (LRN runs on blocked layouts too); a constant one becomes plain.
  const PlanValue x = inputs[0].is_constant() ? builder.Reordered(inputs[0], PlainDesc(inputs[0].shape)) : inputs[0];
  const dnnl::memory::desc src_desc = WithDataType(x.desc, dnnl::memory::data_type::f32);
  auto desc = dnnl::lrn_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::lrn_across_channels,
                                      src_desc, params_.size, params_.alpha, params_.beta, params_.bias);
  auto pd = dnnl::lrn_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
  PlanValue y = builder.NewValue(x.shape, pd.dst_desc());
  builder.AddStep(dnnl::lrn_forward(pd), {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<Tensor>> Lrn::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                            std::span<const Tensor> output_grads,
                                            std::span<const bool> /*needed*/) const {
  if (inputs.empty() || !inputs[0].has_data() || output_grads.empty()) {
    return InvalidArgument("LRN backward needs X and the gradient of Y");
  }
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(LrnLayout l, Layout(params_, x.shape()));
  const auto xs = x.floats();
  const auto dy = output_grads[0].floats();
  const std::vector<double> scales = WindowScales(params_, l, xs);
  // y_c = x_c·D_c^(−β) with D_c = bias + α/size·Σ_{k∈W(c)} x_k², so
  // dx_k = dy_k·D_k^(−β) − 2β·α/size·x_k·Σ_{c: k∈W(c)} dy_c·x_c·D_c^(−β−1).
  std::vector<double> through_scale(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    through_scale[i] = dy[i] * xs[i] * std::pow(scales[i], -params_.beta - 1.0);
  }
  const double factor = 2.0 * params_.beta * params_.alpha / static_cast<double>(params_.size);
  Tensor dx(DataType::kFloat32, x.shape());
  auto dxs = dx.floats();
  for (int64_t n = 0; n < l.batch; ++n) {
    for (int64_t k = 0; k < l.channels; ++k) {
      // Channel k is in the window of the channels c with c − before ≤ k ≤ c + after.
      const int64_t first = std::max<int64_t>(0, k - l.after);
      const int64_t last = std::min(l.channels - 1, k + l.before);
      for (int64_t s = 0; s < l.spatial; ++s) {
        double sum = 0.0;
        for (int64_t c = first; c <= last; ++c) sum += through_scale[l.At(n, c, s)];
        const size_t i = l.At(n, k, s);
        dxs[i] = static_cast<float>(dy[i] * std::pow(scales[i], -params_.beta) - factor * xs[i] * sum);
      }
    }
  }
  return std::vector<Tensor>{dx};
}

}  // namespace fovea::engine::ops
