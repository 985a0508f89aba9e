#include "engine/ops/conv_transpose.h"

#include <algorithm>
#include <string>

#include "engine/ops/binary.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

constexpr size_t kSpatialRank = 2;
constexpr size_t kRank = kSpatialRank + 2;  // N, C, H, W
constexpr size_t kBiasInput = 2;
constexpr size_t kResidualInput = 3;

std::vector<int64_t> OrDefault(const std::vector<int64_t>& v, int64_t fallback) {
  return v.empty() ? std::vector<int64_t>(kSpatialRank, fallback) : v;
}

// Python's floor division by two, which ONNX's pad split is written in: −1 splits into 0 before and −1 after.
int64_t FloorHalf(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

// Pads before the output when `total` pads must be removed from it (negative: output added), as ONNX splits them:
// SAME_UPPER puts the larger half after the output, the other modes before it.
int64_t PadsBegin(int64_t total, AutoPad auto_pad) {
  return auto_pad == AutoPad::kSameUpper ? FloorHalf(total) : total - FloorHalf(total);
}

// The dimensions the loops walk.
struct Sizes {
  int64_t n, c, h, w, m, cg, mg, kh, kw, oh, ow;
};

Sizes SizesOf(const Shape& x, const Shape& w, int64_t group, const TransposedWindow& g) {
  return {x[0], x[1], x[2], x[3], w[1] * group, x[1] / group, w[1], w[2], w[3], g.output[0], g.output[1]};
}

// Calls f(x_offset, w_offset, y_offset) for every input element, weight element and output element they update.
template <typename F>
void ForEachTap(const Sizes& s, const TransposedWindow& g, F&& f) {
  for (int64_t n = 0; n < s.n; ++n) {
    for (int64_t c = 0; c < s.c; ++c) {
      const int64_t grp = c / s.cg;
      for (int64_t ih = 0; ih < s.h; ++ih) {
        for (int64_t iw = 0; iw < s.w; ++iw) {
          const int64_t x_offset = ((n * s.c + c) * s.h + ih) * s.w + iw;
          for (int64_t m = 0; m < s.mg; ++m) {
            const int64_t oc = grp * s.mg + m;
            for (int64_t ky = 0; ky < s.kh; ++ky) {
              const int64_t oy = ih * g.strides[0] - g.pads_begin[0] + ky * g.dilations[0];
              if (oy < 0 || oy >= s.oh) continue;
              for (int64_t kx = 0; kx < s.kw; ++kx) {
                const int64_t ox = iw * g.strides[1] - g.pads_begin[1] + kx * g.dilations[1];
                if (ox < 0 || ox >= s.ow) continue;
                f(x_offset, ((c * s.mg + m) * s.kh + ky) * s.kw + kx, ((n * s.m + oc) * s.oh + oy) * s.ow + ox);
              }
            }
          }
        }
      }
    }
  }
}

bool HasSum(const std::vector<ConvPostOp>& post_ops) {
  return std::any_of(post_ops.begin(), post_ops.end(),
                     [](const ConvPostOp& p) { return p.kind == ConvPostOp::Kind::kSum; });
}

StatusOr<TransposedWindow> CheckedWindow(const ConvTransposeParams& params, const Shape& x, const Shape& w) {
  if (x.size() != kRank) {
    return Unimplemented("only 2-D ConvTranspose is supported (X must be 4-D NCHW), X is " + ShapeToString(x));
  }
  if (w.size() != kRank) return InvalidArgument("W " + ShapeToString(w) + " must have the rank of X");
  if (w[0] != x[1] || x[1] % params.group != 0) {
    return InvalidArgument("X " + ShapeToString(x) + " and W " + ShapeToString(w) + " disagree for group " +
                           std::to_string(params.group) + " (W is [C, M/group, kH, kW])");
  }
  return ResolveTransposedWindow(params, {x[2], x[3]}, {w[2], w[3]});
}

// Offsets into `residual` for each element of an output of `y_shape`, numpy-broadcasting it (a fused Add's other
// operand), or an error when it does not broadcast.
StatusOr<std::vector<int64_t>> ResidualOffsets(const Shape& residual, const Shape& y_shape) {
  if (residual.size() > y_shape.size()) return InvalidArgument("the residual has a higher rank than Y");
  Shape padded(y_shape.size() - residual.size(), 1);
  padded.insert(padded.end(), residual.begin(), residual.end());
  std::vector<int64_t> strides(padded.size(), 0);
  int64_t stride = 1;
  for (size_t a = padded.size(); a-- > 0;) {
    if (padded[a] != 1 && padded[a] != y_shape[a]) {
      return InvalidArgument("residual " + ShapeToString(residual) + " does not broadcast to " +
                             ShapeToString(y_shape));
    }
    strides[a] = padded[a] == 1 ? 0 : stride;
    stride *= padded[a];
  }
  std::vector<int64_t> offsets(static_cast<size_t>(NumElements(y_shape)), 0);
  std::vector<int64_t> index(y_shape.size(), 0);
  for (auto& offset : offsets) {
    for (size_t a = 0; a < index.size(); ++a) offset += index[a] * strides[a];
    for (size_t a = index.size(); a-- > 0;) {
      if (++index[a] < y_shape[a]) break;
      index[a] = 0;
    }
  }
  return offsets;
}

// The reference loops, which the host step runs too: y = post_ops(x ⋆ᵀ w + b). inputs = X, W, optional B, residual.
Status ComputeConvTranspose(const ConvTransposeParams& params, std::span<const Tensor> inputs, Tensor& y) {
  const Tensor& x = inputs[0];
  const Tensor& w = inputs[1];
  const bool has_bias = inputs.size() > kBiasInput && inputs[kBiasInput].has_data();
  std::vector<int64_t> residual_offsets;
  if (HasSum(params.post_ops)) {
    if (inputs.size() <= kResidualInput || !inputs[kResidualInput].has_data()) {
      return InvalidArgument("fused sum needs the residual input");
    }
    FOVEA_ASSIGN_OR_RETURN(residual_offsets, ResidualOffsets(inputs[kResidualInput].shape(), y.shape()));
  }
  FOVEA_ASSIGN_OR_RETURN(TransposedWindow g, CheckedWindow(params, x.shape(), w.shape()));
  const Sizes s = SizesOf(x.shape(), w.shape(), params.group, g);
  std::vector<double> acc(static_cast<size_t>(y.num_elements()), 0.0);
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  ForEachTap(s, g, [&](int64_t xi, int64_t wi, int64_t yi) {
    acc[static_cast<size_t>(yi)] += static_cast<double>(xp[xi]) * wp[wi];
  });
  float* yp = y.data<float>();
  const int64_t plane = s.oh * s.ow;
  for (int64_t i = 0; i < y.num_elements(); ++i) {
    double v = acc[static_cast<size_t>(i)];
    if (has_bias) v += inputs[kBiasInput].data<float>()[(i / plane) % s.m];
    auto out = static_cast<float>(v);
    for (const auto& post : params.post_ops) {
      out = post.kind == ConvPostOp::Kind::kSum
                ? out + inputs[kResidualInput].data<float>()[residual_offsets[static_cast<size_t>(i)]]
                : ApplyActivation(post.activation, out);
    }
    yp[i] = out;
  }
  return OkStatus();
}

// W [C, M/group, kH, kW] as oneDNN's logical deconvolution weights: [M, C, kH, kW], or [group, M/group, C/group, kH,
// kW] with groups, row-major.
Tensor LogicalWeights(const Tensor& w, int64_t group) {
  const int64_t c = w.dim(0), mg = w.dim(1), cg = c / group, k = w.dim(2) * w.dim(3);
  const Shape shape = group == 1 ? Shape{mg, c, w.dim(2), w.dim(3)} : Shape{group, mg, cg, w.dim(2), w.dim(3)};
  Tensor logical(DataType::kFloat32, shape);
  const float* src = w.data<float>();
  float* dst = logical.data<float>();
  for (int64_t grp = 0; grp < group; ++grp) {
    for (int64_t m = 0; m < mg; ++m) {
      for (int64_t ic = 0; ic < cg; ++ic) {
        std::copy_n(src + ((grp * cg + ic) * mg + m) * k, k, dst + ((grp * mg + m) * cg + ic) * k);
      }
    }
  }
  return logical;
}

// oneDNN's logical deconvolution weight dims for ONNX weights of `w_shape` ([C, M/group, kH, kW]): [M, C, kH, kW], or
// [group, M/group, C/group, kH, kW] with groups.
memory::dims LogicalWeightDims(const Shape& w_shape, int64_t group) {
  const int64_t mg = w_shape[1], cg = w_shape[0] / group;
  return group == 1 ? memory::dims{mg, cg, w_shape[2], w_shape[3]}
                    : memory::dims{group, mg, cg, w_shape[2], w_shape[3]};
}

// The deconvolution for window `g`, every operand in the layout oneDNN prefers. Throws dnnl::error when oneDNN has no
// implementation.
dnnl::deconvolution_forward::primitive_desc MakeDeconvolution(PlanBuilder& builder, const Shape& x_shape,
                                                              const memory::dims& weight_dims, memory::data_type type,
                                                              bool has_bias, const TransposedWindow& g,
                                                              const Shape& y_shape,
                                                              const std::vector<ConvPostOp>& post_ops) {
  const memory::desc src_any(ToDims(x_shape), type, Tag::any);
  const memory::desc weights_any(weight_dims, type, Tag::any);
  const memory::desc dst_any(ToDims(y_shape), type, Tag::any);
  const memory::desc bias_desc({y_shape[1]}, memory::data_type::f32, Tag::a);
  memory::dims pad_r;
  for (size_t i = 0; i < kSpatialRank; ++i) {
    // oneDNN's output is (in − 1)·stride + extent − pad_l − pad_r: output_padding and output_shape make pad_r negative.
    const int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    pad_r.push_back((x_shape[2 + i] - 1) * g.strides[i] + extent - g.pads_begin[i] - g.output[i]);
  }
  const memory::dims strides = {g.strides[0], g.strides[1]};
  const memory::dims dilations = {g.dilations[0] - 1, g.dilations[1] - 1};  // oneDNN counts dilation from 0
  const memory::dims pad_l = {g.pads_begin[0], g.pads_begin[1]};
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto algorithm = dnnl::algorithm::deconvolution_direct;
  const auto desc = has_bias ? dnnl::deconvolution_forward::desc(prop, algorithm, src_any, weights_any, bias_desc,
                                                                 dst_any, strides, dilations, pad_l, pad_r)
                             : dnnl::deconvolution_forward::desc(prop, algorithm, src_any, weights_any, dst_any,
                                                                 strides, dilations, pad_l, pad_r);
  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_post_ops(BuildPostOps(post_ops));
  return {desc, attr, builder.engine()};
}

}  // namespace

StatusOr<TransposedWindow> ResolveTransposedWindow(const ConvTransposeParams& params, const std::vector<int64_t>& input,
                                                   const std::vector<int64_t>& kernel) {
  const WindowAttributes& a = params.window;
  if (!a.kernel.empty() && a.kernel != kernel) return InvalidArgument("kernel_shape disagrees with W");
  TransposedWindow g{kernel, OrDefault(a.strides, 1), OrDefault(a.dilations, 1), OrDefault(a.pads_begin, 0), {}};
  const auto pads_end = OrDefault(a.pads_end, 0);
  const auto output_padding = OrDefault(params.output_padding, 0);
  // output_shape may list N and C too, as some exporters write it.
  std::vector<int64_t> output_shape = params.output_shape;
  if (output_shape.size() == kRank) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (input.size() != kSpatialRank || g.kernel.size() != kSpatialRank || g.strides.size() != kSpatialRank ||
      g.dilations.size() != kSpatialRank || g.pads_begin.size() != kSpatialRank || pads_end.size() != kSpatialRank ||
      output_padding.size() != kSpatialRank || (!output_shape.empty() && output_shape.size() != kSpatialRank)) {
    return InvalidArgument("kernel, strides, dilations, pads, output_padding and output_shape need 2 entries each");
  }
  for (size_t i = 0; i < kSpatialRank; ++i) {
    if (g.kernel[i] <= 0 || g.strides[i] <= 0 || g.dilations[i] <= 0 || output_padding[i] < 0) {
      return InvalidArgument("kernel, strides and dilations must be positive and output_padding non-negative");
    }
    const int64_t extent = (g.kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t natural = g.strides[i] * (input[i] - 1) + output_padding[i] + extent;
    int64_t out = 0;
    if (!output_shape.empty() || a.auto_pad == AutoPad::kSameUpper || a.auto_pad == AutoPad::kSameLower) {
      out = output_shape.empty() ? input[i] * g.strides[i] : output_shape[i];
      g.pads_begin[i] = PadsBegin(natural - out, a.auto_pad);
    } else if (a.auto_pad == AutoPad::kValid) {
      g.pads_begin[i] = 0;
      out = natural;
    } else {
      out = natural - g.pads_begin[i] - pads_end[i];
    }
    if (out <= 0) return InvalidArgument("ConvTranspose output would be empty along spatial axis " + std::to_string(i));
    g.output.push_back(out);
  }
  return g;
}

StatusOr<std::unique_ptr<ConvTranspose>> ConvTranspose::Create(const ConvTransposeParams& params) {
  if (params.group < 1) return InvalidArgument("group must be at least 1, got " + std::to_string(params.group));
  const auto sums = std::count_if(params.post_ops.begin(), params.post_ops.end(),
                                  [](const ConvPostOp& p) { return p.kind == ConvPostOp::Kind::kSum; });
  if (sums > 1) return InvalidArgument("at most one sum post-op");
  return std::unique_ptr<ConvTranspose>(new ConvTranspose(params));
}

bool ConvTranspose::has_sum() const { return HasSum(params_.post_ops); }

StatusOr<TransposedWindow> ConvTranspose::Window(const Shape& x, const Shape& w) const {
  return CheckedWindow(params_, x, w);
}

StatusOr<std::vector<Tensor>> ConvTranspose::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2) return InvalidArgument("ConvTranspose needs X and W");
  if (inputs[0].dtype() != DataType::kFloat32 || inputs[1].dtype() != DataType::kFloat32) {
    return InvalidArgument("X and W must be float32");
  }
  FOVEA_ASSIGN_OR_RETURN(TransposedWindow g, Window(inputs[0].shape(), inputs[1].shape()));
  Tensor y(DataType::kFloat32, {inputs[0].dim(0), inputs[1].dim(1) * params_.group, g.output[0], g.output[1]});
  FOVEA_RETURN_IF_ERROR(ComputeConvTranspose(params_, inputs, y));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> ConvTranspose::EmitOneDnn(PlanBuilder& builder, std::span<const PlanValue> inputs,
                                                           const TransposedWindow& g, const Shape& y_shape) const {
  const PlanValue& x = inputs[0];
  const PlanValue& w = inputs[1];
  const bool has_bias = inputs.size() > kBiasInput && inputs[kBiasInput].present();
  const int64_t group = params_.group;
  const memory::dims weight_dims = LogicalWeightDims(w.shape, group);
  // As in Conv: constant weights in the plan's compute type, reordered once; runtime weights keep the plan in f32.
  const memory::data_type type = w.is_constant() ? builder.compute_type() : memory::data_type::f32;
  const auto pd = MakeDeconvolution(builder, x.shape, weight_dims, type, has_bias, g, y_shape, params_.post_ops);

  std::vector<PlanArg> args;
  args.push_back(builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()));
  if (w.is_constant()) {
    args.push_back(
        builder.Arg(DNNL_ARG_WEIGHTS, PlanValue::Constant(LogicalWeights(*w.constant, group)), pd.weights_desc()));
  } else {
    // ONNX's [C, M/group, kH, kW] is oneDNN's iohw (giohw) view of its logical weights: no copy, one reorder per run.
    const memory::desc onnx_layout(weight_dims, memory::data_type::f32, group == 1 ? Tag::iohw : Tag::giohw);
    const PlanValue view = builder.View(builder.Plain(w), Shape(weight_dims.begin(), weight_dims.end()), onnx_layout);
    args.push_back(builder.Arg(DNNL_ARG_WEIGHTS, view, pd.weights_desc()));
  }
  if (has_bias) args.push_back(builder.Arg(DNNL_ARG_BIAS, inputs[kBiasInput], pd.bias_desc()));
  // The sum post-op accumulates into dst, so dst starts as a private copy of the residual.
  PlanValue y =
      has_sum() ? builder.Copied(inputs[kResidualInput], pd.dst_desc()) : builder.NewValue(y_shape, pd.dst_desc());
  args.push_back({DNNL_ARG_DST, y.id, {}});
  builder.AddStep(dnnl::deconvolution_forward(pd), std::move(args), pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<PlanValue>> ConvTranspose::EmitHost(PlanBuilder& builder, std::span<const PlanValue> inputs,
                                                         const Shape& y_shape) const {
  HostKernel kernel = [params = params_](std::span<const Tensor> in, std::span<Tensor> out) {
    return ComputeConvTranspose(params, in, out[0]);
  };
  return builder.AddHostStep(std::move(kernel), inputs, {y_shape}, {DataType::kFloat32});
}

// A fused Add whose operand turns out to broadcast cannot be a sum post-op: run the ConvTranspose with the post-ops
// before the sum, then the Add and the remaining activations as separate primitives (as Conv does).
StatusOr<std::vector<PlanValue>> ConvTranspose::EmitUnfused(PlanBuilder& builder,
                                                            std::span<const PlanValue> inputs) const {
  ConvTransposeParams head = params_;
  const auto sum = std::find_if(head.post_ops.begin(), head.post_ops.end(),
                                [](const ConvPostOp& p) { return p.kind == ConvPostOp::Kind::kSum; });
  const std::vector<ConvPostOp> tail(sum + 1, head.post_ops.end());
  head.post_ops.erase(sum, head.post_ops.end());
  FOVEA_ASSIGN_OR_RETURN(auto deconv, ConvTranspose::Create(head));
  FOVEA_ASSIGN_OR_RETURN(auto y, deconv->Emit(builder, inputs.subspan(0, kResidualInput)));
  FOVEA_ASSIGN_OR_RETURN(auto add, Binary::Create({BinaryParams::Kind::kAdd}));
  const PlanValue add_inputs[] = {y[0], inputs[kResidualInput]};
  FOVEA_ASSIGN_OR_RETURN(y, add->Emit(builder, add_inputs));
  for (const auto& post : tail) {
    FOVEA_ASSIGN_OR_RETURN(auto act, Activation::Create(post.activation));
    FOVEA_ASSIGN_OR_RETURN(y, act->Emit(builder, std::span<const PlanValue>(y.data(), 1)));
  }
  return y;
}

StatusOr<std::vector<PlanValue>> ConvTranspose::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[0].present() || !inputs[1].present()) {
    return InvalidArgument("ConvTranspose needs X and W");
  }
  if (inputs[0].dtype != DataType::kFloat32) return Unimplemented("ConvTranspose of non-float X");
  std::vector<PlanValue> operands(inputs.begin(), inputs.end());
  // A constant X (only when folding is off) becomes a runtime copy.
  if (operands[0].is_constant()) operands[0] = builder.Reordered(operands[0], PlainDesc(operands[0].shape));
  FOVEA_ASSIGN_OR_RETURN(TransposedWindow g, Window(operands[0].shape, operands[1].shape));
  const Shape y_shape = {operands[0].shape[0], operands[1].shape[1] * params_.group, g.output[0], g.output[1]};
  if (has_sum()) {
    if (operands.size() <= kResidualInput || !operands[kResidualInput].present()) {
      return InvalidArgument("fused sum needs the residual input");
    }
    if (operands[kResidualInput].shape != y_shape) return EmitUnfused(builder, operands);
  }
  // oneDNN takes no negative leading pad (output_shape asking for output before the first input pixel's).
  const bool dnnl_pads = std::all_of(g.pads_begin.begin(), g.pads_begin.end(), [](int64_t p) { return p >= 0; });
  if (dnnl_pads) {
    try {
      return EmitOneDnn(builder, operands, g, y_shape);
    } catch (const dnnl::error&) {
      // No oneDNN implementation for this geometry: the host step computes the same.
    }
  }
  return EmitHost(builder, operands, y_shape);
}

StatusOr<SpatialGeometry> ConvTranspose::Geometry(std::span<const Shape> /*input_shapes*/) const {
  // Assumed, and checked: the kernel is known from kernel_shape and equals the stride on both axes, dilation 1, no
  // output_padding or output_shape, and zero pads (stated, VALID, or SAME, which resolves to zero when kernel ==
  // stride). Then output pixel o receives exactly one input pixel, o / stride, through kernel tap o % stride, so it
  // sits on input pixel o / stride. Non-zero pads p, even symmetric ones, crop p output pixels from each side and
  // shift the grid by p, which SpatialGeometry cannot express.
  const WindowAttributes& a = params_.window;
  const auto zero = [](const std::vector<int64_t>& v) {
    return std::all_of(v.begin(), v.end(), [](int64_t e) { return e == 0; });
  };
  const auto dilations = OrDefault(a.dilations, 1);
  const auto strides = OrDefault(a.strides, 1);
  const bool pads_zero = a.auto_pad != AutoPad::kNotSet || (zero(a.pads_begin) && zero(a.pads_end));
  if (a.kernel.size() != kSpatialRank || a.kernel != strides || !pads_zero || !zero(params_.output_padding) ||
      !params_.output_shape.empty() ||
      std::any_of(dilations.begin(), dilations.end(), [](int64_t d) { return d != 1; })) {
    return FailedPrecondition(
        "ConvTranspose maps pixels as an upsampling only with kernel_shape == strides, zero pads, dilation 1 and "
        "no output_padding or output_shape");
  }
  SpatialGeometry geometry;
  geometry.upsample = {strides[0], strides[1]};
  return geometry;
}

StatusOr<std::vector<Tensor>> ConvTranspose::Backward(std::span<const Tensor> inputs,
                                                      std::span<const Tensor> /*outputs*/,
                                                      std::span<const Tensor> output_grads,
                                                      std::span<const bool> /*needed*/) const {
  if (!params_.post_ops.empty()) return Unimplemented("ConvTranspose with fused post-ops has no backward");
  if (inputs.size() < 2 || output_grads.empty()) return InvalidArgument("ConvTranspose backward needs X, W and dY");
  const Tensor& x = inputs[0];
  const Tensor& w = inputs[1];
  const Tensor& dy = output_grads[0];
  FOVEA_ASSIGN_OR_RETURN(TransposedWindow g, Window(x.shape(), w.shape()));
  const Sizes s = SizesOf(x.shape(), w.shape(), params_.group, g);
  if (dy.shape() != Shape{s.n, s.m, s.oh, s.ow}) return InvalidArgument("dY does not match Y");
  // dX is the convolution of dY with W (the taps read backwards); dW correlates X with dY; dB sums dY per channel.
  std::vector<double> dx(static_cast<size_t>(x.num_elements()), 0.0), dw(static_cast<size_t>(w.num_elements()), 0.0);
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  const float* dyp = dy.data<float>();
  ForEachTap(s, g, [&](int64_t xi, int64_t wi, int64_t yi) {
    dx[static_cast<size_t>(xi)] += static_cast<double>(dyp[yi]) * wp[wi];
    dw[static_cast<size_t>(wi)] += static_cast<double>(dyp[yi]) * xp[xi];
  });
  const auto to_tensor = [](const std::vector<double>& v, const Shape& shape) {
    Tensor t(DataType::kFloat32, shape);
    std::transform(v.begin(), v.end(), t.data<float>(), [](double e) { return static_cast<float>(e); });
    return t;
  };
  std::vector<Tensor> grads(inputs.size());
  grads[0] = to_tensor(dx, x.shape());
  grads[1] = to_tensor(dw, w.shape());
  if (inputs.size() > kBiasInput && inputs[kBiasInput].has_data()) {
    std::vector<double> db(static_cast<size_t>(s.m), 0.0);
    const int64_t plane = s.oh * s.ow;
    for (int64_t i = 0; i < dy.num_elements(); ++i) db[static_cast<size_t>((i / plane) % s.m)] += dyp[i];
    grads[kBiasInput] = to_tensor(db, {s.m});
  }
  return grads;
}

}  // namespace fovea::engine::ops
