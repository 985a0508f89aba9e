#include "engine/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

constexpr size_t kNumInputs = 5;  // X, scale, B, mean, var
constexpr int64_t kMinRank = 2;
constexpr int64_t kMaxRank = 5;  // oneDNN batch normalization handles up to 3 spatial axes

const char* const kParamNames[kNumInputs] = {"X", "scale", "B", "input_mean", "input_var"};

Status CheckInputs(const Shape& x, std::span<const Shape> params) {
  if (static_cast<int64_t>(x.size()) < kMinRank || static_cast<int64_t>(x.size()) > kMaxRank) {
    return Unimplemented("BatchNormalization X must have rank 2 to 5, X is " + ShapeToString(x));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    if (NumElements(params[i]) != x[1] || params[i].size() != 1) {
      return InvalidArgument(std::string(kParamNames[i + 1]) + " must be [" + std::to_string(x[1]) + "], got " +
                             ShapeToString(params[i]));
    }
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<BatchNorm>> BatchNorm::Create(const BatchNormParams& params) {
  if (!(params.epsilon >= 0.0f)) return InvalidArgument("epsilon must be non-negative");
  return std::unique_ptr<BatchNorm>(new BatchNorm(params));
}

StatusOr<std::vector<Tensor>> BatchNorm::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < kNumInputs) return InvalidArgument("BatchNormalization needs X, scale, B, mean and var");
  std::vector<Shape> param_shapes;
  for (size_t i = 0; i < kNumInputs; ++i) {
    if (!inputs[i].has_data() || inputs[i].dtype() != DataType::kFloat32) {
      return InvalidArgument(std::string(kParamNames[i]) + " must be a float32 tensor");
    }
    if (i > 0) param_shapes.push_back(inputs[i].shape());
  }
  const Tensor& x = inputs[0];
  FOVEA_RETURN_IF_ERROR(CheckInputs(x.shape(), param_shapes));
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t inner = x.num_elements() / (n * c);
  const auto* scale = inputs[1].data<float>();
  const auto* bias = inputs[2].data<float>();
  const auto* mean = inputs[3].data<float>();
  const auto* var = inputs[4].data<float>();
  Tensor y(DataType::kFloat32, x.shape());
  const auto* xp = x.data<float>();
  auto* yp = y.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const double inv_std = 1.0 / std::sqrt(static_cast<double>(var[ch]) + params_.epsilon);
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t idx = (b * c + ch) * inner + i;
        yp[idx] = static_cast<float>(scale[ch] * (xp[idx] - mean[ch]) * inv_std + bias[ch]);
      }
    }
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> BatchNorm::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < kNumInputs) return InvalidArgument("BatchNormalization needs X, scale, B, mean and var");
  std::vector<Shape> param_shapes;
  for (size_t i = 0; i < kNumInputs; ++i) {
    if (!inputs[i].present() || inputs[i].dtype != DataType::kFloat32) {
      return InvalidArgument(std::string(kParamNames[i]) + " must be a float32 tensor");
    }
    if (i > 0) param_shapes.push_back(inputs[i].shape);
  }
  // A constant X (only when folding is off) becomes a runtime copy; a runtime X keeps its producer's layout.
  const PlanValue x = inputs[0].is_constant() ? builder.Reordered(inputs[0], PlainDesc(inputs[0].shape)) : inputs[0];
  FOVEA_RETURN_IF_ERROR(CheckInputs(x.shape, param_shapes));
  const auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
                     dnnl::normalization_flags::use_shift;
  // X keeps the layout its producer chose; batch normalization works on blocked layouts too.
  auto desc =
      dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_inference, x.desc, params_.epsilon, flags);
  auto pd = dnnl::batch_normalization_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
  const memory::desc channel_desc({x.shape[1]}, memory::data_type::f32, memory::format_tag::a);
  PlanValue y = builder.NewValue(x.shape, pd.dst_desc());
  std::vector<PlanArg> args = {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()),
                               builder.Arg(DNNL_ARG_SCALE, inputs[1], channel_desc),
                               builder.Arg(DNNL_ARG_SHIFT, inputs[2], channel_desc),
                               builder.Arg(DNNL_ARG_MEAN, inputs[3], channel_desc),
                               builder.Arg(DNNL_ARG_VARIANCE, inputs[4], channel_desc),
                               {DNNL_ARG_DST, y.id, {}}};
  builder.AddStep(dnnl::batch_normalization_forward(pd), std::move(args), pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

std::optional<ChannelAffine> BatchNorm::AsChannelAffine(std::span<const Tensor> parameters) const {
  constexpr size_t kParameters = 4;  // gamma, beta, mean, var
  if (parameters.size() < kParameters) return std::nullopt;
  const int64_t channels = parameters[0].num_elements();
  for (size_t i = 0; i < kParameters; ++i) {
    const Tensor& t = parameters[i];
    if (!t.has_data() || t.dtype() != DataType::kFloat32 || t.num_elements() != channels) return std::nullopt;
  }
  ChannelAffine affine;
  for (int64_t c = 0; c < channels; ++c) {
    const double gamma = parameters[0].data<float>()[c], beta = parameters[1].data<float>()[c];
    const double mean = parameters[2].data<float>()[c], var = parameters[3].data<float>()[c];
    const double scale = gamma / std::sqrt(var + params_.epsilon);
    affine.scale.push_back(scale);
    affine.shift.push_back(beta - mean * scale);
  }
  return affine;
}

StatusOr<std::vector<Tensor>> BatchNorm::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                  std::span<const Tensor> output_grads,
                                                  std::span<const bool> /*needed*/) const {
  if (inputs.size() < kNumInputs || output_grads.empty()) {
    return InvalidArgument("BatchNormalization backward needs X, scale, B, mean, var and dY");
  }
  const Tensor& x = inputs[0];
  const auto affine = AsChannelAffine(inputs.subspan(1));
  if (x.dtype() != DataType::kFloat32 || x.rank() < kMinRank || !affine || x.dim(1) != inputs[1].num_elements()) {
    return InvalidArgument("BatchNormalization backward needs float32 X [N, C, ...] and [C] parameters");
  }
  const Tensor& dy = output_grads[0];
  if (dy.shape() != x.shape()) return InvalidArgument("dY " + ShapeToString(dy.shape()) + " does not match X");
  const int64_t n = x.dim(0), c = x.dim(1);
  const int64_t inner = x.num_elements() / std::max<int64_t>(1, n * c);
  std::vector<Tensor> grads(inputs.size());
  grads[0] = Tensor(DataType::kFloat32, x.shape());
  const float* g = dy.data<float>();
  float* dx = grads[0].data<float>();
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const auto scale = static_cast<float>(affine->scale[static_cast<size_t>(ch)]);
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t idx = (b * c + ch) * inner + i;
        dx[idx] = g[idx] * scale;
      }
    }
  }
  return grads;
}

}  // namespace fovea::engine::ops
