// Convolution layer: forward_training/inference, backward data and backward weights, blocked layouts chosen by oneDNN
// (format_tag::any) with the plain weights reordered at the edge.

#include "trainer/layers/layers.h"

namespace fovea::trainer {
namespace {

using dnnl::memory;

class ConvLayer final : public Layer {
 public:
  ConvLayer(LayerContext context, Parameter* weight, Parameter* bias)
      : context_(std::move(context)), weight_(weight), bias_(bias) {}

  Status Init(const engine::ops::WindowAttributes& attributes, const memory::desc& src, bool needs_diff_src);
  const memory::desc& dst_desc() const override { return dst_desc_; }
  const memory& Forward(const memory& src) override;
  memory Backward(const memory& diff_dst) override;

 private:
  void InitBackward();

  LayerContext context_;
  Parameter* weight_;
  Parameter* bias_;  // may be null
  memory::desc src_desc_, dst_desc_;
  memory::dims strides_, padding_l_, padding_r_;
  memory weight_plain_, bias_memory_, dst_;
  memory used_src_, used_weights_;
  dnnl::convolution_forward::primitive_desc forward_pd_;
  dnnl::convolution_forward forward_;
  LayoutAdapter src_adapter_, weights_adapter_;
  bool needs_diff_src_ = true;

  dnnl::convolution_backward_data::primitive_desc data_pd_;
  dnnl::convolution_backward_data backward_data_;
  dnnl::convolution_backward_weights::primitive_desc weights_pd_;
  dnnl::convolution_backward_weights backward_weights_;
  memory diff_src_, diff_weights_, diff_weights_plain_, diff_bias_;
  dnnl::reorder diff_weights_to_plain_;  // only when the chosen layout is not plain
  LayoutAdapter diff_dst_data_adapter_, diff_dst_weights_adapter_, src_weights_adapter_, weights_data_adapter_,
      diff_src_adapter_;
};

Status ConvLayer::Init(const engine::ops::WindowAttributes& attributes, const memory::desc& src, bool needs_diff_src) {
  const memory::dims x = src.dims();
  const engine::Shape& w = weight_->shape;
  if (x.size() != 4 || w.size() != 4 || w[1] != x[1]) {
    return InvalidArgument("conv '" + weight_->name + "' with shape " + engine::ShapeToString(w) +
                           " does not fit its input of " + std::to_string(x.size()) + " dims");
  }
  FOVEA_ASSIGN_OR_RETURN(auto window, engine::ops::ResolveWindow(attributes, {x[2], x[3]}, {w[2], w[3]}));
  src_desc_ = src;
  needs_diff_src_ = needs_diff_src;
  strides_ = {window.strides[0], window.strides[1]};
  padding_l_ = {window.pads_begin[0], window.pads_begin[1]};
  padding_r_ = {window.pads_end[0], window.pads_end[1]};
  const memory::dims weight_dims(w.begin(), w.end());
  const memory::dims dst_dims = {x[0], w[0], window.output[0], window.output[1]};
  const auto any = [](const memory::dims& d) {
    return memory::desc(d, memory::data_type::f32, memory::format_tag::any);
  };
  const auto prop = context_.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const memory::dims dilation = {0, 0};
  auto desc =
      bias_ != nullptr
          ? dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct, any(x), any(weight_dims),
                                            PlainF32({w[0]}), any(dst_dims), strides_, dilation, padding_l_, padding_r_)
          : dnnl::convolution_forward::desc(prop, dnnl::algorithm::convolution_direct, any(x), any(weight_dims),
                                            any(dst_dims), strides_, dilation, padding_l_, padding_r_);
  forward_pd_ = dnnl::convolution_forward::primitive_desc(desc, context_.engine);
  forward_ = dnnl::convolution_forward(forward_pd_);
  dst_desc_ = forward_pd_.dst_desc();
  dst_ = NewMemory(dst_desc_, context_);
  weight_plain_ = memory(PlainF32(weight_dims), context_.engine, weight_->value.data());
  if (bias_ != nullptr) bias_memory_ = memory(PlainF32({w[0]}), context_.engine, bias_->value.data());
  if (context_.training) InitBackward();
  return OkStatus();
}

void ConvLayer::InitBackward() {
  const memory::dims dilation = {0, 0};
  const auto any = [](const memory::dims& d) {
    return memory::desc(d, memory::data_type::f32, memory::format_tag::any);
  };
  const memory::dims x = src_desc_.dims();
  const memory::dims weight_dims = forward_pd_.weights_desc().dims();
  const memory::dims dst_dims = dst_desc_.dims();
  const auto weights_desc =
      bias_ != nullptr
          ? dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, any(x), any(weight_dims),
                                                     PlainF32({weight_dims[0]}), any(dst_dims), strides_, dilation,
                                                     padding_l_, padding_r_)
          : dnnl::convolution_backward_weights::desc(dnnl::algorithm::convolution_direct, any(x), any(weight_dims),
                                                     any(dst_dims), strides_, dilation, padding_l_, padding_r_);
  weights_pd_ = dnnl::convolution_backward_weights::primitive_desc(weights_desc, context_.engine, forward_pd_);
  backward_weights_ = dnnl::convolution_backward_weights(weights_pd_);
  diff_weights_plain_ = memory(PlainF32(weight_dims), context_.engine, weight_->grad.data());
  if (weights_pd_.diff_weights_desc() == diff_weights_plain_.get_desc()) {
    diff_weights_ = diff_weights_plain_;
  } else {
    diff_weights_ = NewMemory(weights_pd_.diff_weights_desc(), context_);
    diff_weights_to_plain_ = dnnl::reorder(diff_weights_, diff_weights_plain_);
  }
  if (bias_ != nullptr) diff_bias_ = memory(PlainF32({weight_dims[0]}), context_.engine, bias_->grad.data());
  if (!needs_diff_src_) return;
  const dnnl::convolution_backward_data::desc data_desc(dnnl::algorithm::convolution_direct, any(x), any(weight_dims),
                                                        any(dst_dims), strides_, dilation, padding_l_, padding_r_);
  data_pd_ = dnnl::convolution_backward_data::primitive_desc(data_desc, context_.engine, forward_pd_);
  backward_data_ = dnnl::convolution_backward_data(data_pd_);
  diff_src_ = NewMemory(data_pd_.diff_src_desc(), context_);
}

const memory& ConvLayer::Forward(const memory& src) {
  used_src_ = src_adapter_.Adapt(src, forward_pd_.src_desc(), context_);
  used_weights_ = weights_adapter_.Adapt(weight_plain_, forward_pd_.weights_desc(), context_);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, used_src_}, {DNNL_ARG_WEIGHTS, used_weights_}, {DNNL_ARG_DST, dst_}};
  if (bias_ != nullptr) args[DNNL_ARG_BIAS] = bias_memory_;
  forward_.execute(context_.stream, args);
  return dst_;
}

memory ConvLayer::Backward(const memory& diff_dst) {
  const memory dd_weights = diff_dst_weights_adapter_.Adapt(diff_dst, weights_pd_.diff_dst_desc(), context_);
  const memory src = src_weights_adapter_.Adapt(used_src_, weights_pd_.src_desc(), context_);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, dd_weights}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights_}};
  if (bias_ != nullptr) args[DNNL_ARG_DIFF_BIAS] = diff_bias_;
  backward_weights_.execute(context_.stream, args);
  if (diff_weights_ != diff_weights_plain_) {
    diff_weights_to_plain_.execute(context_.stream, diff_weights_, diff_weights_plain_);
  }
  if (!needs_diff_src_) return {};
  const memory dd_data = diff_dst_data_adapter_.Adapt(diff_dst, data_pd_.diff_dst_desc(), context_);
  const memory weights = weights_data_adapter_.Adapt(used_weights_, data_pd_.weights_desc(), context_);
  backward_data_.execute(context_.stream,
                         {{DNNL_ARG_DIFF_DST, dd_data}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src_}});
  return diff_src_adapter_.Adapt(diff_src_, src_desc_, context_);
}

}  // namespace

StatusOr<std::unique_ptr<Layer>> MakeConvLayer(const ConvLayerParams& params, ParameterStore& store,
                                               const memory::desc& src, bool needs_diff_src,
                                               const LayerContext& context) {
  Parameter* weight = store.Find(params.name + ".weight");
  if (weight == nullptr) return NotFound("parameter '" + params.name + ".weight' is missing");
  Parameter* bias = nullptr;
  if (params.bias) {
    FOVEA_ASSIGN_OR_RETURN(bias, FindParameter(store, params.name + ".bias", {weight->shape[0]}));
  }
  auto layer = std::make_unique<ConvLayer>(context, weight, bias);
  try {
    FOVEA_RETURN_IF_ERROR(layer->Init(params.window, src, needs_diff_src));
  } catch (const dnnl::error& e) {
    return Internal("conv '" + params.name + "': oneDNN rejected the primitive: " + e.what());
  }
  return std::unique_ptr<Layer>(std::move(layer));
}

}  // namespace fovea::trainer
