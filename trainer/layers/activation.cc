// Activation layer: the engine's activation kinds (ToEltwise maps them to oneDNN eltwise) with eltwise backward, from
// the same descriptors as the engine's Activation::Backward (EltwiseForwardDesc, EltwiseBackwardDesc).

#include "trainer/layers/layers.h"

namespace fovea::trainer {
namespace {

using dnnl::memory;

class ActivationLayer final : public Layer {
 public:
  explicit ActivationLayer(LayerContext context) : context_(std::move(context)) {}

  void Init(const engine::ops::EltwiseSpec& spec, const memory::desc& src);
  const memory::desc& dst_desc() const override { return src_desc_; }
  const memory& Forward(const memory& src) override;
  memory Backward(const memory& diff_dst) override;

 private:
  LayerContext context_;
  memory::desc src_desc_;
  dnnl::eltwise_forward forward_;
  dnnl::eltwise_backward::primitive_desc backward_pd_;
  dnnl::eltwise_backward backward_;
  memory dst_, saved_src_, diff_src_;
  LayoutAdapter diff_dst_adapter_;
};

void ActivationLayer::Init(const engine::ops::EltwiseSpec& spec, const memory::desc& src) {
  src_desc_ = src;
  const auto prop = context_.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const dnnl::eltwise_forward::primitive_desc forward_pd(engine::ops::EltwiseForwardDesc(prop, spec, src),
                                                         context_.engine);
  forward_ = dnnl::eltwise_forward(forward_pd);
  dst_ = NewMemory(forward_pd.dst_desc(), context_);
  if (!context_.training) return;
  backward_pd_ =
      dnnl::eltwise_backward::primitive_desc(engine::ops::EltwiseBackwardDesc(spec, src), context_.engine, forward_pd);
  backward_ = dnnl::eltwise_backward(backward_pd_);
  diff_src_ = NewMemory(backward_pd_.diff_src_desc(), context_);
}

const memory& ActivationLayer::Forward(const memory& src) {
  saved_src_ = src;
  forward_.execute(context_.stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}});
  return dst_;
}

memory ActivationLayer::Backward(const memory& diff_dst) {
  const memory dd = diff_dst_adapter_.Adapt(diff_dst, backward_pd_.diff_dst_desc(), context_);
  backward_.execute(context_.stream,
                    {{DNNL_ARG_SRC, saved_src_}, {DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_SRC, diff_src_}});
  return diff_src_;
}

}  // namespace

StatusOr<std::unique_ptr<Layer>> MakeActivationLayer(const engine::ops::ActivationParams& params,
                                                     const memory::desc& src, const LayerContext& context) {
  // The layer runs one eltwise forward and its backward: kinds that oneDNN computes as a chain (HardSigmoid, Selu…) or
  // not at all (Softsign, Erf…) have no single backward primitive.
  const std::vector<engine::ops::EltwiseSpec> chain = engine::ops::ToEltwise(params);
  if (chain.size() != 1) {
    return Unimplemented("activation " + std::string(engine::ops::ActivationName(params.kind)) +
                         " is not a single oneDNN eltwise; the trainer supports only those");
  }
  auto layer = std::make_unique<ActivationLayer>(context);
  try {
    layer->Init(chain.front(), src);
  } catch (const dnnl::error& e) {
    return Internal(std::string("activation: oneDNN rejected the primitive: ") + e.what());
  }
  return std::unique_ptr<Layer>(std::move(layer));
}

}  // namespace fovea::trainer
