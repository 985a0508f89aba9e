#include "engine/ops/quantized_conv.h"

#include "engine/cpu_features.h"

#include "engine/ops/quantize.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

constexpr int kOutputChannelMask = 1 << 1;  // dst dimension 1 (channels) carries the per-channel scales

QuantizationSlices PerTensor(float scale, DataType type) {
  QuantizationSlices s;
  s.scales = {scale};
  s.zero_points = {0};
  s.quantized_type = type;
  return s;
}

QuantizationSlices WeightSlices(const std::vector<float>& scales, const Shape& w) {
  QuantizationSlices s;
  s.scales = scales;
  s.zero_points.assign(scales.size(), 0);
  s.quantized_type = DataType::kInt8;
  s.axis = 0;
  s.inner = NumElements(w) / w[0];
  return s;
}

float WeightScale(const QuantizedConvParams& p, int64_t m) {
  return p.weight_scales.size() == 1 ? p.weight_scales[0] : p.weight_scales[static_cast<size_t>(m)];
}

// oneDNN adds the bias to the int32 accumulator before the output scale, so the float bias is divided by the
// accumulator's scale (input scale × weight scale of the channel).
Tensor AccumulatorBias(const QuantizedConvParams& p, const Tensor& bias) {
  Tensor scaled(DataType::kFloat32, bias.shape());
  for (int64_t m = 0; m < bias.num_elements(); ++m) {
    scaled.data<float>()[m] = bias.data<float>()[m] / (p.input_scale * WeightScale(p, m));
  }
  return scaled;
}

// Per output channel: accumulator → output units.
std::vector<float> OutputScales(const QuantizedConvParams& p, int64_t channels) {
  std::vector<float> scales;
  const float output = p.quantized_output ? p.output_scale : 1.0f;
  for (int64_t m = 0; m < channels; ++m) scales.push_back(p.input_scale * WeightScale(p, m) / output);
  return scales;
}

}  // namespace

StatusOr<std::unique_ptr<QuantizedConv>> QuantizedConv::Create(const QuantizedConvParams& params) {
  std::vector<EltwiseSpec> fused;
  for (const auto& post : params.conv.post_ops) {
    if (post.kind == ConvPostOp::Kind::kSum) return Unimplemented("an int8 convolution with a residual sum");
    const std::vector<EltwiseSpec> chain = ToEltwise(post.activation);
    fused.insert(fused.end(), chain.begin(), chain.end());
    if (chain.empty() || !FusesAsPostOps(fused)) {
      return Unimplemented("an int8 convolution followed by " + std::string(ActivationName(post.activation.kind)) +
                           ", which oneDNN cannot fuse");
    }
  }
  if (params.weight_scales.empty() || !(params.input_scale > 0.0f) ||
      (params.quantized_output && !(params.output_scale > 0.0f))) {
    return InvalidArgument("int8 convolution scales must be positive");
  }
  FOVEA_RETURN_IF_ERROR(Conv::Create(params.conv).status());
  return std::unique_ptr<QuantizedConv>(new QuantizedConv(params));
}

StatusOr<std::vector<Tensor>> QuantizedConv::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("QLinearConv needs X and W");
  }
  const Tensor& x = inputs[0];
  const Tensor& w = inputs[1];
  if (x.dtype() != params_.input_type || w.dtype() != DataType::kInt8) {
    return InvalidArgument("QLinearConv reads X as " + std::string(DataTypeName(params_.input_type)) +
                           " and W as int8");
  }
  if (params_.weight_scales.size() != 1 && static_cast<int64_t>(params_.weight_scales.size()) != w.dim(0)) {
    return InvalidArgument("QLinearConv needs one weight scale per output channel");
  }
  FOVEA_ASSIGN_OR_RETURN(auto conv, Conv::Create(params_.conv));
  const Tensor float_inputs[] = {DequantizeTensor(x, PerTensor(params_.input_scale, params_.input_type)),
                                 DequantizeTensor(w, WeightSlices(params_.weight_scales, w.shape())),
                                 inputs.size() > 2 ? inputs[2] : Tensor()};
  FOVEA_ASSIGN_OR_RETURN(auto y, conv->Reference(float_inputs));
  if (params_.quantized_output) y[0] = QuantizeTensor(y[0], PerTensor(params_.output_scale, params_.output_type));
  return y;
}

StatusOr<std::vector<PlanValue>> QuantizedConv::EmitInFloat(PlanBuilder& builder,
                                                            std::span<const PlanValue> inputs) const {
  const PlanValue& x = inputs[0];
  const Tensor& w = *inputs[1].constant;
  // x · input_scale as float32, in the layout the plain input has.
  const memory::desc x_float = PlainDesc(x.shape);
  dnnl::primitive_attr dequantize = builder.DefaultAttr();
  dequantize.set_output_scales(0, {params_.input_scale});
  const PlanValue x_plain = builder.Plain(x);
  auto to_float = dnnl::reorder::primitive_desc(builder.engine(), x_plain.desc, builder.engine(), x_float, dequantize);
  PlanValue xf = builder.NewValue(x.shape, x_float);
  builder.AddStep(dnnl::reorder(to_float), {{DNNL_ARG_FROM, x_plain.id, {}}, {DNNL_ARG_TO, xf.id, {}}},
                  to_float.scratchpad_desc());
  FOVEA_ASSIGN_OR_RETURN(auto conv, Conv::Create(params_.conv));
  const PlanValue float_inputs[] = {
      xf, PlanValue::Constant(DequantizeTensor(w, WeightSlices(params_.weight_scales, w.shape()))),
      inputs.size() > 2 ? inputs[2] : PlanValue()};
  FOVEA_ASSIGN_OR_RETURN(auto y, conv->Emit(builder, float_inputs));
  if (!params_.quantized_output) return y;
  // round(y / output_scale), saturated to the output type, as QuantizeLinear does.
  const PlanValue y_plain = builder.Plain(y[0]);
  const memory::desc q_desc = PlainDesc(y_plain.shape, DnnlQuantizedType(params_.output_type));
  dnnl::primitive_attr quantize = builder.DefaultAttr();
  quantize.set_output_scales(0, {1.0f / params_.output_scale});
  auto to_int = dnnl::reorder::primitive_desc(builder.engine(), y_plain.desc, builder.engine(), q_desc, quantize);
  PlanValue q = builder.NewValue(y_plain.shape, q_desc);
  q.dtype = params_.output_type;
  builder.AddStep(dnnl::reorder(to_int), {{DNNL_ARG_FROM, y_plain.id, {}}, {DNNL_ARG_TO, q.id, {}}},
                  to_int.scratchpad_desc());
  return std::vector<PlanValue>{q};
}

StatusOr<std::vector<PlanValue>> QuantizedConv::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[0].present() || !inputs[1].is_constant()) {
    return Unimplemented("an int8 convolution needs constant weights");
  }
  if (!CpuHasInt8DotProduct()) return EmitInFloat(builder, inputs);
  const PlanValue& x = inputs[0];
  const Tensor& w = *inputs[1].constant;
  const bool has_bias = inputs.size() > 2 && inputs[2].present();
  if (has_bias && !inputs[2].is_constant()) return Unimplemented("an int8 convolution needs a constant bias");
  if (x.shape.size() != 4 || w.rank() != 4 || x.shape[1] != w.dim(1) * params_.conv.group) {
    return InvalidArgument("X " + ShapeToString(x.shape) + " and W " + ShapeToString(w.shape()) + " disagree");
  }
  FOVEA_ASSIGN_OR_RETURN(Window g, ResolveWindow(params_.conv.window, {x.shape[2], x.shape[3]}, {w.dim(2), w.dim(3)}));
  const int64_t m = w.dim(0);
  const Shape y_shape = {x.shape[0], m, g.output[0], g.output[1]};
  const int64_t group = params_.conv.group;
  const memory::dims weight_dims =
      group == 1 ? ToDims(w.shape()) : memory::dims{group, m / group, w.dim(1), w.dim(2), w.dim(3)};
  const memory::data_type dst_type =
      params_.quantized_output ? DnnlQuantizedType(params_.output_type) : memory::data_type::f32;
  const memory::desc src_any(ToDims(x.shape), DnnlQuantizedType(params_.input_type), Tag::any);
  const memory::desc weights_any(weight_dims, memory::data_type::s8, Tag::any);
  const memory::desc bias_desc({m}, memory::data_type::f32, Tag::a);
  const memory::desc dst_any(ToDims(y_shape), dst_type, Tag::any);

  dnnl::primitive_attr attr = builder.DefaultAttr();
  attr.set_output_scales(kOutputChannelMask, OutputScales(params_, m));
  dnnl::post_ops post_ops;
  for (const auto& post : params_.conv.post_ops) {
    for (const EltwiseSpec& spec : ToEltwise(post.activation)) {
      post_ops.append_eltwise(1.0f, spec.algorithm, spec.alpha, spec.beta);
    }
  }
  attr.set_post_ops(post_ops);
  const memory::dims strides = {g.strides[0], g.strides[1]};
  const memory::dims dilations = {g.dilations[0] - 1, g.dilations[1] - 1};
  const memory::dims pad_l = {g.pads_begin[0], g.pads_begin[1]};
  const memory::dims pad_r = {g.pads_end[0], g.pads_end[1]};
  auto desc =
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_any,
                                      weights_any, bias_desc, dst_any, strides, dilations, pad_l, pad_r);
  auto pd = dnnl::convolution_forward::primitive_desc(desc, attr, builder.engine());
  const Tensor bias = has_bias ? AccumulatorBias(params_, *inputs[2].constant) : Tensor(DataType::kFloat32, {m});
  const Tensor w_view = w.Reshaped(Shape(weight_dims.begin(), weight_dims.end())).value();
  std::vector<PlanArg> args = {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()),
                               builder.ConstantArg(DNNL_ARG_WEIGHTS, builder.ConstantMemory(w_view, pd.weights_desc())),
                               builder.ConstantArg(DNNL_ARG_BIAS, builder.ConstantMemory(bias, bias_desc))};
  PlanValue y = builder.NewValue(y_shape, pd.dst_desc());
  if (params_.quantized_output) y.dtype = params_.output_type;
  args.push_back({DNNL_ARG_DST, y.id, {}});
  builder.AddStep(dnnl::convolution_forward(pd), std::move(args), pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

std::optional<FloatForm> QuantizedConv::Dequantized() const {
  auto conv = Conv::Create(params_.conv);
  if (!conv.ok()) return std::nullopt;
  return FloatForm{std::shared_ptr<const Op>(std::move(conv).value()), params_.weight_scales};
}

StatusOr<std::shared_ptr<const Op>> Conv::Quantized(const QuantizedOperands& operands) const {
  if (!Quantizable()) return std::shared_ptr<const Op>();
  QuantizedConvParams params;
  params.conv = params_;
  params.input_type = operands.input_type;
  params.input_scale = operands.input_scale;
  params.weight_scales = operands.weight_scales;
  params.quantized_output = operands.quantized_output;
  params.output_type = operands.output_type;
  params.output_scale = operands.output_scale;
  FOVEA_ASSIGN_OR_RETURN(auto quantized, QuantizedConv::Create(params));
  return std::shared_ptr<const Op>(std::move(quantized));
}

}  // namespace fovea::engine::ops
