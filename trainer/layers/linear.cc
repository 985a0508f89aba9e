// Fully connected layer on oneDNN inner_product: forward, backward data and backward weights. A 4-D input is used
// as is (the weights carry its C, H, W), so no flatten runs between a pooled feature map and the classifier. The
// oneDNN descriptors are the engine's (engine::ops::LinearProblem), which Gemm's and MatMul's backward use too.

#include "engine/ops/gemm.h"
#include "trainer/layers/layers.h"

namespace fovea::trainer {
namespace {

using dnnl::memory;

class LinearLayer final : public Layer {
 public:
  LinearLayer(LayerContext context, Parameter* weight, Parameter* bias)
      : context_(std::move(context)), weight_(weight), bias_(bias) {}

  void Init(const memory::desc& src, bool needs_diff_src);
  const memory::desc& dst_desc() const override { return dst_desc_; }
  const memory& Forward(const memory& src) override;
  memory Backward(const memory& diff_dst) override;

 private:
  LayerContext context_;
  Parameter *weight_, *bias_;
  memory::desc src_desc_, dst_desc_;
  bool needs_diff_src_ = true;
  dnnl::inner_product_forward::primitive_desc forward_pd_;
  dnnl::inner_product_forward forward_;
  dnnl::inner_product_backward_data::primitive_desc data_pd_;
  dnnl::inner_product_backward_data backward_data_;
  dnnl::inner_product_backward_weights::primitive_desc weights_pd_;
  dnnl::inner_product_backward_weights backward_weights_;
  memory weight_plain_, bias_memory_, dst_, used_src_, used_weights_;
  memory diff_src_, diff_weights_, diff_weights_plain_, diff_bias_;
  dnnl::reorder diff_weights_to_plain_;
  LayoutAdapter src_adapter_, weights_adapter_, diff_dst_adapter_, src_weights_adapter_, weights_data_adapter_,
      diff_src_adapter_;
};

void LinearLayer::Init(const memory::desc& src, bool needs_diff_src) {
  src_desc_ = src;
  needs_diff_src_ = needs_diff_src;
  const memory::dims x = src.dims();
  const memory::dims weight_dims(weight_->shape.begin(), weight_->shape.end());
  const memory::dims bias_dims = {weight_dims[0]};
  const auto any = [](const memory::dims& d) {
    return memory::desc(d, memory::data_type::f32, memory::format_tag::any);
  };
  // The output stays plain [N, O]: the loss and the next layer read it directly.
  dst_desc_ = PlainF32({x[0], weight_dims[0]});
  const engine::ops::LinearProblem problem{x, weight_dims, bias_dims, dst_desc_.dims()};
  const auto prop = context_.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  forward_pd_ = dnnl::inner_product_forward::primitive_desc(problem.Forward(prop, any(x), any(weight_dims), dst_desc_),
                                                            context_.engine);
  forward_ = dnnl::inner_product_forward(forward_pd_);
  dst_ = NewMemory(dst_desc_, context_);
  weight_plain_ = memory(PlainF32(weight_dims), context_.engine, weight_->value.data());
  bias_memory_ = memory(PlainF32(bias_dims), context_.engine, bias_->value.data());
  if (!context_.training) return;
  weights_pd_ = dnnl::inner_product_backward_weights::primitive_desc(
      problem.BackwardWeights(any(x), any(weight_dims), dst_desc_), context_.engine, forward_pd_);
  backward_weights_ = dnnl::inner_product_backward_weights(weights_pd_);
  diff_weights_plain_ = memory(PlainF32(weight_dims), context_.engine, weight_->grad.data());
  if (weights_pd_.diff_weights_desc() == diff_weights_plain_.get_desc()) {
    diff_weights_ = diff_weights_plain_;
  } else {
    diff_weights_ = NewMemory(weights_pd_.diff_weights_desc(), context_);
    diff_weights_to_plain_ = dnnl::reorder(diff_weights_, diff_weights_plain_);
  }
  diff_bias_ = memory(PlainF32(bias_dims), context_.engine, bias_->grad.data());
  if (!needs_diff_src_) return;
  data_pd_ = dnnl::inner_product_backward_data::primitive_desc(
      problem.BackwardData(any(x), any(weight_dims), dst_desc_), context_.engine, forward_pd_);
  backward_data_ = dnnl::inner_product_backward_data(data_pd_);
  diff_src_ = NewMemory(data_pd_.diff_src_desc(), context_);
}

const memory& LinearLayer::Forward(const memory& src) {
  used_src_ = src_adapter_.Adapt(src, forward_pd_.src_desc(), context_);
  used_weights_ = weights_adapter_.Adapt(weight_plain_, forward_pd_.weights_desc(), context_);
  forward_.execute(context_.stream, {{DNNL_ARG_SRC, used_src_},
                                     {DNNL_ARG_WEIGHTS, used_weights_},
                                     {DNNL_ARG_BIAS, bias_memory_},
                                     {DNNL_ARG_DST, dst_}});
  return dst_;
}

memory LinearLayer::Backward(const memory& diff_dst) {
  const memory dd = diff_dst_adapter_.Adapt(diff_dst, dst_desc_, context_);
  const memory src = src_weights_adapter_.Adapt(used_src_, weights_pd_.src_desc(), context_);
  backward_weights_.execute(context_.stream, {{DNNL_ARG_SRC, src},
                                              {DNNL_ARG_DIFF_DST, dd},
                                              {DNNL_ARG_DIFF_WEIGHTS, diff_weights_},
                                              {DNNL_ARG_DIFF_BIAS, diff_bias_}});
  if (diff_weights_ != diff_weights_plain_) {
    diff_weights_to_plain_.execute(context_.stream, diff_weights_, diff_weights_plain_);
  }
  if (!needs_diff_src_) return {};
  const memory weights = weights_data_adapter_.Adapt(used_weights_, data_pd_.weights_desc(), context_);
  backward_data_.execute(context_.stream,
                         {{DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DIFF_SRC, diff_src_}});
  return diff_src_adapter_.Adapt(diff_src_, src_desc_, context_);
}

}  // namespace

StatusOr<std::unique_ptr<Layer>> MakeLinearLayer(const LinearLayerParams& params, ParameterStore& store,
                                                 const memory::desc& src, bool needs_diff_src,
                                                 const LayerContext& context) {
  Parameter* weight = store.Find(params.name + ".weight");
  if (weight == nullptr) return NotFound("parameter '" + params.name + ".weight' is missing");
  const memory::dims x = src.dims();
  engine::Shape expected = {weight->shape[0]};
  expected.insert(expected.end(), x.begin() + 1, x.end());
  FOVEA_ASSIGN_OR_RETURN(weight, FindParameter(store, params.name + ".weight", expected));
  FOVEA_ASSIGN_OR_RETURN(Parameter * bias, FindParameter(store, params.name + ".bias", {weight->shape[0]}));
  auto layer = std::make_unique<LinearLayer>(context, weight, bias);
  try {
    layer->Init(src, needs_diff_src);
  } catch (const dnnl::error& e) {
    return Internal("linear '" + params.name + "': oneDNN rejected the primitive: " + e.what());
  }
  return std::unique_ptr<Layer>(std::move(layer));
}

}  // namespace fovea::trainer
