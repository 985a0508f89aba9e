// Convolution layer: forward_training/inference, backward data and backward weights, blocked layouts chosen by oneDNN
// (format_tag::any) with the plain weights reordered at the edge. The convolution itself is the engine's
// (engine::ops::Conv::Problem): the same geometry and oneDNN descriptors as inference and Grad-CAM.

#include "engine/ops/conv.h"
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
  engine::ops::ConvProblem problem_;
  memory::desc src_desc_, dst_desc_;
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

memory::desc Any(const memory::dims& dims) { return {dims, memory::data_type::f32, memory::format_tag::any}; }

Status ConvLayer::Init(const engine::ops::WindowAttributes& attributes, const memory::desc& src, bool needs_diff_src) {
  const memory::dims x = src.dims();
  const engine::Shape& w = weight_->shape;
  if (x.size() != 4 || w.size() != 4 || w[1] != x[1]) {
    return InvalidArgument("conv '" + weight_->name + "' with shape " + engine::ShapeToString(w) +
                           " does not fit its input of " + std::to_string(x.size()) + " dims");
  }
  FOVEA_ASSIGN_OR_RETURN(const auto conv,
                         engine::ops::Conv::Create({.window = attributes, .group = 1, .post_ops = {}}));
  FOVEA_ASSIGN_OR_RETURN(problem_, conv->Problem(engine::Shape(x.begin(), x.end()), w, bias_ != nullptr));
  src_desc_ = src;
  needs_diff_src_ = needs_diff_src;
  const auto prop = context_.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  forward_pd_ = dnnl::convolution_forward::primitive_desc(
      problem_.Forward(prop, dnnl::algorithm::convolution_direct, Any(problem_.src), Any(problem_.weights),
                       Any(problem_.dst)),
      context_.engine);
  forward_ = dnnl::convolution_forward(forward_pd_);
  dst_desc_ = forward_pd_.dst_desc();
  dst_ = NewMemory(dst_desc_, context_);
  weight_plain_ = memory(PlainF32(problem_.weights), context_.engine, weight_->value.data());
  if (bias_ != nullptr) bias_memory_ = memory(PlainF32(problem_.bias), context_.engine, bias_->value.data());
  if (context_.training) InitBackward();
  return OkStatus();
}

void ConvLayer::InitBackward() {
  const memory::desc src = Any(problem_.src), weights = Any(problem_.weights), dst = Any(problem_.dst);
  weights_pd_ = dnnl::convolution_backward_weights::primitive_desc(problem_.BackwardWeights(src, weights, dst),
                                                                   context_.engine, forward_pd_);
  backward_weights_ = dnnl::convolution_backward_weights(weights_pd_);
  diff_weights_plain_ = memory(PlainF32(problem_.weights), context_.engine, weight_->grad.data());
  if (weights_pd_.diff_weights_desc() == diff_weights_plain_.get_desc()) {
    diff_weights_ = diff_weights_plain_;
  } else {
    diff_weights_ = NewMemory(weights_pd_.diff_weights_desc(), context_);
    diff_weights_to_plain_ = dnnl::reorder(diff_weights_, diff_weights_plain_);
  }
  if (bias_ != nullptr) diff_bias_ = memory(PlainF32(problem_.bias), context_.engine, bias_->grad.data());
  if (!needs_diff_src_) return;
  data_pd_ = dnnl::convolution_backward_data::primitive_desc(problem_.BackwardData(src, weights, dst), context_.engine,
                                                             forward_pd_);
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
