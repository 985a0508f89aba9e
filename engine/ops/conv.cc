#include "engine/ops/conv.h"

#include <algorithm>
#include <optional>

#include "engine/ops/binary.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

constexpr int64_t kSpatialRank = 2;
constexpr int64_t kConvRank = kSpatialRank + 2;

// Winograd F(4x4, 3x3) needs fewer multiplications than a direct 3x3 convolution once the input has channels enough
// to amortize its transforms; on one input channel it was 5x slower than direct (bench/RESULTS.md).
constexpr int64_t kWinogradMinInputChannels = 16;

// Whether to ask oneDNN for its Winograd convolution: f32 arithmetic, constant weights (transformed once at load), a
// plain 3x3 stride-1 undilated kernel without groups, and enough input channels. oneDNN may still decline (its
// implementation covers only some CPUs and shapes); the caller then falls back to direct convolution.
bool WantsWinograd(const Window& g, const Shape& w_shape, int64_t group, bool constant_weights,
                   memory::data_type type) {
  return type == memory::data_type::f32 && constant_weights && group == 1 && w_shape[1] >= kWinogradMinInputChannels &&
         g.kernel == std::vector<int64_t>{3, 3} && g.strides == std::vector<int64_t>{1, 1} &&
         g.dilations == std::vector<int64_t>{1, 1};
}

}  // namespace

StatusOr<std::unique_ptr<Conv>> Conv::Create(const ConvParams& params) {
  if (params.group < 1) return InvalidArgument("group must be at least 1, got " + std::to_string(params.group));
  const auto sums = std::count_if(params.post_ops.begin(), params.post_ops.end(),
                                  [](const ConvPostOp& p) { return p.kind == ConvPostOp::Kind::kSum; });
  if (sums > 1) return InvalidArgument("at most one sum post-op");
  return std::unique_ptr<Conv>(new Conv(params));
}

bool Conv::has_sum() const {
  return std::any_of(params_.post_ops.begin(), params_.post_ops.end(),
                     [](const ConvPostOp& p) { return p.kind == ConvPostOp::Kind::kSum; });
}

StatusOr<Window> Conv::ResolveGeometry(const Shape& x, const Shape& w) const {
  if (static_cast<int64_t>(x.size()) != kConvRank) {
    return Unimplemented("only 2-D convolution is supported (X must be 4-D NCHW), X is " + ShapeToString(x));
  }
  if (w.size() != x.size()) return InvalidArgument("W " + ShapeToString(w) + " must have the rank of X");
  if (x[1] != w[1] * params_.group || w[0] % params_.group != 0) {
    return InvalidArgument("X " + ShapeToString(x) + " and W " + ShapeToString(w) + " disagree for group " +
                           std::to_string(params_.group));
  }
  return ResolveWindow(params_.window, {x[2], x[3]}, {w[2], w[3]});
}

StatusOr<std::vector<Tensor>> Conv::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2) return InvalidArgument("Conv needs X and W");
  const Tensor& x = inputs[0];
  const Tensor& w = inputs[1];
  const Tensor* b = inputs.size() > 2 && inputs[2].has_data() ? &inputs[2] : nullptr;
  const Tensor* residual = has_sum() && inputs.size() > 3 ? &inputs[3] : nullptr;
  FOVEA_ASSIGN_OR_RETURN(Window g, ResolveGeometry(x.shape(), w.shape()));
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), wd = x.dim(3);
  const int64_t m = w.dim(0), cg = w.dim(1), kh = w.dim(2), kw = w.dim(3);
  const int64_t oh = g.output[0], ow = g.output[1];
  const int64_t mg = m / params_.group;
  Tensor y(DataType::kFloat32, {n, m, oh, ow});
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  float* yp = y.data<float>();
  for (int64_t in = 0; in < n; ++in) {
    for (int64_t om = 0; om < m; ++om) {
      const int64_t grp = om / mg;
      for (int64_t oy = 0; oy < oh; ++oy) {
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = b ? b->data<float>()[om] : 0.0;
          for (int64_t ic = 0; ic < cg; ++ic) {
            const int64_t xc = grp * cg + ic;
            for (int64_t ky = 0; ky < kh; ++ky) {
              const int64_t iy = oy * g.strides[0] - g.pads_begin[0] + ky * g.dilations[0];
              if (iy < 0 || iy >= h) continue;
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t ix = ox * g.strides[1] - g.pads_begin[1] + kx * g.dilations[1];
                if (ix < 0 || ix >= wd) continue;
                acc += static_cast<double>(xp[((in * c + xc) * h + iy) * wd + ix]) *
                       wp[((om * cg + ic) * kh + ky) * kw + kx];
              }
            }
          }
          const int64_t idx = ((in * m + om) * oh + oy) * ow + ox;
          float v = static_cast<float>(acc);
          for (const auto& post : params_.post_ops) {
            if (post.kind == ConvPostOp::Kind::kSum) {
              if (residual == nullptr) return InvalidArgument("fused sum needs the residual input");
              v += residual->data<float>()[idx];
            } else {
              v = ApplyActivation(post.activation, v);
            }
          }
          yp[idx] = v;
        }
      }
    }
  }
  return std::vector<Tensor>{y};
}

size_t Conv::FirstUnfusablePostOp(const Shape& y_shape, std::span<const PlanValue> inputs) const {
  std::vector<EltwiseSpec> fused;
  for (size_t i = 0; i < params_.post_ops.size(); ++i) {
    const ConvPostOp& post = params_.post_ops[i];
    if (post.kind == ConvPostOp::Kind::kSum) {
      if (inputs.size() > 3 && inputs[3].shape != y_shape) return i;
      continue;
    }
    const std::vector<EltwiseSpec> chain = ToEltwise(post.activation);
    fused.insert(fused.end(), chain.begin(), chain.end());
    if (chain.empty() || !FusesAsPostOps(fused)) return i;
  }
  return params_.post_ops.size();
}

// Post-ops from `first` on that oneDNN cannot run fused: a sum whose operand turns out to broadcast (known only once
// shapes are), an activation without an eltwise form (Softsign, Erf…), or one whose eltwise steps would clash with
// earlier ones (FusesAsPostOps). The Conv runs with the post-ops before `first`, then the rest run as separate ops.
StatusOr<std::vector<PlanValue>> Conv::EmitUnfused(PlanBuilder& builder, std::span<const PlanValue> inputs,
                                                   size_t first) const {
  ConvParams head = params_;
  const std::vector<ConvPostOp> tail(head.post_ops.begin() + static_cast<std::ptrdiff_t>(first), head.post_ops.end());
  head.post_ops.resize(first);
  FOVEA_ASSIGN_OR_RETURN(auto conv, Conv::Create(head));
  const size_t head_inputs = conv->has_sum() ? inputs.size() : std::min<size_t>(inputs.size(), 3);
  FOVEA_ASSIGN_OR_RETURN(auto y, conv->Emit(builder, inputs.subspan(0, head_inputs)));
  for (const auto& post : tail) {
    if (post.kind == ConvPostOp::Kind::kSum) {
      FOVEA_ASSIGN_OR_RETURN(auto add, Binary::Create({BinaryParams::Kind::kAdd}));
      const PlanValue add_inputs[] = {y[0], inputs[3]};
      FOVEA_ASSIGN_OR_RETURN(y, add->Emit(builder, add_inputs));
    } else {
      FOVEA_ASSIGN_OR_RETURN(auto act, Activation::Create(post.activation));
      FOVEA_ASSIGN_OR_RETURN(y, act->Emit(builder, std::span<const PlanValue>(y.data(), 1)));
    }
  }
  return y;
}

Conv::Primitive Conv::ChoosePrimitive(PlanBuilder& builder, const ConvProblem& problem, const Window& g,
                                      const PlanValue& w, const std::optional<memory::desc>& dst_layout) const {
  // Constant weights are converted once to the plan's compute type (bf16 or f32); runtime weights stay f32 and so does
  // the whole convolution then. dst keeps the compute type, so bf16 activations flow between bf16 layers.
  const memory::data_type type = w.is_constant() ? builder.compute_type() : memory::data_type::f32;
  // Constant weights let oneDNN pick its blocked layout (reordered once, now); runtime weights stay plain.
  const memory::desc weights_md =
      w.is_constant() ? memory::desc(problem.weights, type, Tag::any) : problem.PlainWeights();
  const memory::desc src_any(problem.src, type, Tag::any);
  const memory::desc dst_any(problem.dst, type, Tag::any);

  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_post_ops(BuildPostOps(params_.post_ops));
  const auto primitive_for = [&](dnnl::algorithm algorithm, const memory::desc& dst) {
    return dnnl::convolution_forward::primitive_desc(
        problem.Forward(dnnl::prop_kind::forward_inference, algorithm, src_any, weights_md, dst), attr,
        builder.engine());
  };
  // Each algorithm is tried with the readers' layout first; oneDNN declining (dnnl::error) moves on to the next try.
  std::vector<memory::desc> dsts;
  if (dst_layout && dst_layout->dims() == dst_any.dims() && dst_layout->data_type() == type)
    dsts.push_back(*dst_layout);
  dsts.push_back(dst_any);
  if (WantsWinograd(g, w.shape, params_.group, w.is_constant(), type)) {
    for (const auto& dst : dsts) {
      try {
        return {primitive_for(dnnl::algorithm::convolution_winograd, dst), true};
      } catch (const dnnl::error&) {
        // Not implemented for this CPU, shape or layout.
      }
    }
  }
  if (dsts.size() > 1) {
    try {
      return {primitive_for(dnnl::algorithm::convolution_direct, dsts.front()), false};
    } catch (const dnnl::error&) {
      // No direct implementation writes that layout: let oneDNN choose.
    }
  }
  return {primitive_for(dnnl::algorithm::convolution_direct, dst_any), false};
}

std::optional<memory::desc> Conv::PreferredFirstInputLayout(PlanBuilder& builder,
                                                            std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[1].is_constant()) return std::nullopt;
  const StatusOr<Window> g = ResolveGeometry(inputs[0].shape, inputs[1].shape);
  const bool has_bias = inputs.size() > 2 && inputs[2].present();
  const StatusOr<ConvProblem> problem = Problem(inputs[0].shape, inputs[1].shape, has_bias);
  if (!g.ok() || !problem.ok()) return std::nullopt;
  try {
    const Primitive chosen = ChoosePrimitive(builder, *problem, *g, inputs[1], std::nullopt);
    if (chosen.winograd) return chosen.pd.src_desc();
  } catch (const dnnl::error&) {
    // Emit reports it; no preference here.
  }
  return std::nullopt;
}

StatusOr<std::vector<PlanValue>> Conv::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[1].present()) return InvalidArgument("Conv needs X and W");
  const PlanValue& x = inputs[0];
  const PlanValue& w = inputs[1];
  const bool has_bias = inputs.size() > 2 && inputs[2].present();
  FOVEA_ASSIGN_OR_RETURN(Window g, ResolveGeometry(x.shape, w.shape));
  const Shape y_shape = {x.shape[0], w.shape[0], g.output[0], g.output[1]};
  if (has_sum() && (inputs.size() < 4 || !inputs[3].present())) {
    return InvalidArgument("fused sum needs the residual input");
  }
  const size_t unfusable = FirstUnfusablePostOp(y_shape, inputs);
  if (unfusable < params_.post_ops.size()) return EmitUnfused(builder, inputs, unfusable);
  FOVEA_ASSIGN_OR_RETURN(const ConvProblem problem, Problem(x.shape, w.shape, has_bias));
  const auto pd = ChoosePrimitive(builder, problem, g, w, builder.LayoutReadersWant(y_shape)).pd;

  std::vector<PlanArg> args;
  args.push_back(builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()));
  if (w.is_constant()) {
    args.push_back(builder.Arg(DNNL_ARG_WEIGHTS, w, pd.weights_desc()));
  } else {
    const PlanValue w_view = builder.Alias(builder.Plain(w), Shape(problem.weights.begin(), problem.weights.end()));
    args.push_back(builder.Arg(DNNL_ARG_WEIGHTS, w_view, pd.weights_desc()));
  }
  if (has_bias) args.push_back(builder.Arg(DNNL_ARG_BIAS, inputs[2], pd.bias_desc()));
  PlanValue y;
  if (has_sum()) {
    // The sum post-op accumulates into dst, so dst starts as a private copy of the residual.
    y = builder.Copied(inputs[3], pd.dst_desc());
  } else {
    y = builder.NewValue(y_shape, pd.dst_desc());
  }
  args.push_back({DNNL_ARG_DST, y.id, {}});
  builder.AddStep(dnnl::convolution_forward(pd), std::move(args), pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<SpatialGeometry> Conv::Geometry(std::span<const Shape> input_shapes) const {
  std::vector<int64_t> kernel;
  if (input_shapes.size() > 1 && input_shapes[1].size() == static_cast<size_t>(kConvRank)) {
    kernel = {input_shapes[1][2], input_shapes[1][3]};
  }
  return WindowGeometry(params_.window, kernel, type());
}

std::shared_ptr<const Op> Conv::WithPostOp(const PostOp& post_op) const {
  if (post_op.kind == PostOp::Kind::kSum && has_sum()) return nullptr;
  ConvParams params = params_;
  params.post_ops.push_back(post_op);
  auto fused = Conv::Create(params);
  if (!fused.ok()) return nullptr;
  return std::shared_ptr<const Op>(std::move(fused).value());
}

std::optional<std::vector<Tensor>> Conv::AbsorbOutputAffine(std::span<const Tensor> parameters,
                                                            const ChannelAffine& affine) const {
  // Only a plain convolution: a fused activation or sum would have to run before the affine, not after.
  if (!params_.post_ops.empty() || parameters.empty() || !parameters[0].has_data()) return std::nullopt;
  const Tensor& w = parameters[0];
  const bool has_bias = parameters.size() > 1 && parameters[1].has_data();
  if (w.dtype() != DataType::kFloat32 || w.rank() < 1) return std::nullopt;
  const int64_t m = w.dim(0);
  if (static_cast<int64_t>(affine.scale.size()) != m || static_cast<int64_t>(affine.shift.size()) != m) {
    return std::nullopt;
  }
  if (has_bias && (parameters[1].dtype() != DataType::kFloat32 || parameters[1].num_elements() != m)) {
    return std::nullopt;
  }
  Tensor folded_w = w.Clone();
  Tensor folded_b(DataType::kFloat32, {m});
  const int64_t per_channel = w.num_elements() / m;
  for (int64_t c = 0; c < m; ++c) {
    const double s = affine.scale[static_cast<size_t>(c)];
    for (int64_t k = 0; k < per_channel; ++k) folded_w.data<float>()[c * per_channel + k] *= static_cast<float>(s);
    const double bias = has_bias ? parameters[1].data<float>()[c] : 0.0;
    folded_b.data<float>()[c] = static_cast<float>(bias * s + affine.shift[static_cast<size_t>(c)]);
  }
  return std::vector<Tensor>{folded_w, folded_b};
}

std::optional<LinearMap> Conv::AsLinearMap(std::span<const Tensor> parameters) const {
  if (!params_.post_ops.empty() || params_.group != 1 || parameters.empty() || !parameters[0].has_data()) {
    return std::nullopt;
  }
  const Tensor& w = parameters[0];
  if (w.rank() != kConvRank || w.dim(2) != 1 || w.dim(3) != 1 || w.dtype() != DataType::kFloat32) return std::nullopt;
  const auto nonzero = [](const std::vector<int64_t>& v) {
    return std::any_of(v.begin(), v.end(), [](int64_t x) { return x != 0; });
  };
  const auto above_one = [](const std::vector<int64_t>& v) {
    return std::any_of(v.begin(), v.end(), [](int64_t x) { return x != 1; });
  };
  if (nonzero(params_.window.pads_begin) || nonzero(params_.window.pads_end) || above_one(params_.window.strides)) {
    return std::nullopt;
  }
  LinearMap map;
  map.weights = w.Reshaped({w.dim(0), w.dim(1)}).value().Clone();
  map.bias = Tensor(DataType::kFloat32, {w.dim(0)});
  if (parameters.size() > 1 && parameters[1].has_data()) {
    if (parameters[1].num_elements() != w.dim(0)) return std::nullopt;
    map.bias = parameters[1].Reshaped({w.dim(0)}).value().Clone();
  }
  return map;
}

dnnl::post_ops BuildPostOps(const std::vector<ConvPostOp>& post_ops) {
  dnnl::post_ops ops;
  for (const auto& op : post_ops) {
    if (op.kind == ConvPostOp::Kind::kSum) {
      ops.append_sum(1.0f);
    } else {
      for (const EltwiseSpec& spec : ToEltwise(op.activation)) {
        ops.append_eltwise(1.0f, spec.algorithm, spec.alpha, spec.beta);
      }
    }
  }
  return ops;
}

bool PostOpsFuse(const std::vector<ConvPostOp>& post_ops, const ConvPostOp& next) {
  std::vector<EltwiseSpec> chain;
  for (const ConvPostOp* op : [&] {
         std::vector<const ConvPostOp*> all;
         for (const auto& p : post_ops) all.push_back(&p);
         all.push_back(&next);
         return all;
       }()) {
    if (op->kind != ConvPostOp::Kind::kActivation) continue;
    const auto steps = ToEltwise(op->activation);
    if (steps.empty()) return false;
    chain.insert(chain.end(), steps.begin(), steps.end());
  }
  return FusesAsPostOps(chain);
}

}  // namespace fovea::engine::ops
