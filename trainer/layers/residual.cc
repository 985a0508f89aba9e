// Residual block layer: relu(main(x) + shortcut(x)) over branch layers compiled elsewhere (conv and batch-norm
// layers; the block only joins them). Forward: the sum and the ReLU are one binary primitive with a ReLU post-op.
// Backward: the ReLU's gradient is taken from its output (relu_use_dst_for_bwd, so the sum is not kept), sent down
// both branches, and the two input gradients are added.

#include "trainer/layers/layers.h"

namespace fovea::trainer {
namespace {

using dnnl::memory;
using Chain = std::vector<std::unique_ptr<Layer>>;

// Runs `layers` in order from `x`; the identity when there are none.
const memory& ForwardChain(Chain& layers, const memory& x) {
  const memory* y = &x;
  for (auto& layer : layers) y = &layer->Forward(*y);
  return *y;
}

// Back-propagates `diff` through `layers` in reverse; the identity when there are none.
memory BackwardChain(Chain& layers, memory diff) {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) diff = (*it)->Backward(diff);
  return diff;
}

class ResidualLayer final : public Layer {
 public:
  ResidualLayer(LayerContext context, Chain main, Chain shortcut)
      : context_(std::move(context)), main_(std::move(main)), shortcut_(std::move(shortcut)) {}

  void Init(const memory::desc& src, bool needs_diff_src);
  const memory::desc& dst_desc() const override { return dst_desc_; }
  const memory& Forward(const memory& src) override;
  memory Backward(const memory& diff_dst) override;

 private:
  LayerContext context_;
  Chain main_, shortcut_;
  memory::desc src_desc_, dst_desc_;
  bool needs_diff_src_ = true;
  dnnl::binary add_relu_;
  dnnl::eltwise_backward relu_backward_;
  dnnl::binary add_diffs_;
  memory dst_, diff_sum_, diff_src_;
  LayoutAdapter shortcut_adapter_, diff_dst_adapter_, main_diff_adapter_, shortcut_diff_adapter_;
};

void ResidualLayer::Init(const memory::desc& src, bool needs_diff_src) {
  src_desc_ = src;
  needs_diff_src_ = needs_diff_src;
  dst_desc_ = main_.back()->dst_desc();
  dnnl::post_ops relu;
  relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attributes;
  attributes.set_post_ops(relu);
  add_relu_ = dnnl::binary(dnnl::binary::primitive_desc(
      dnnl::binary::desc(dnnl::algorithm::binary_add, dst_desc_, dst_desc_, dst_desc_), attributes, context_.engine));
  dst_ = NewMemory(dst_desc_, context_);
  if (!context_.training) return;
  const auto relu_algorithm = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
  const dnnl::eltwise_forward::primitive_desc hint(
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, relu_algorithm, dst_desc_, 0.0f, 0.0f),
      context_.engine);
  relu_backward_ = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(
      dnnl::eltwise_backward::desc(relu_algorithm, dst_desc_, dst_desc_, 0.0f, 0.0f), context_.engine, hint));
  diff_sum_ = NewMemory(dst_desc_, context_);
  if (!needs_diff_src_) return;
  add_diffs_ = dnnl::binary(dnnl::binary::primitive_desc(
      dnnl::binary::desc(dnnl::algorithm::binary_add, src_desc_, src_desc_, src_desc_), context_.engine));
  diff_src_ = NewMemory(src_desc_, context_);
}

const memory& ResidualLayer::Forward(const memory& src) {
  const memory& main = ForwardChain(main_, src);
  const memory shortcut = shortcut_adapter_.Adapt(ForwardChain(shortcut_, src), dst_desc_, context_);
  add_relu_.execute(context_.stream, {{DNNL_ARG_SRC_0, main}, {DNNL_ARG_SRC_1, shortcut}, {DNNL_ARG_DST, dst_}});
  return dst_;
}

memory ResidualLayer::Backward(const memory& diff_dst) {
  const memory dd = diff_dst_adapter_.Adapt(diff_dst, dst_desc_, context_);
  relu_backward_.execute(context_.stream,
                         {{DNNL_ARG_DST, dst_}, {DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_SRC, diff_sum_}});
  const memory from_main = BackwardChain(main_, diff_sum_);
  const memory from_shortcut = BackwardChain(shortcut_, diff_sum_);
  if (!needs_diff_src_) return {};
  add_diffs_.execute(context_.stream,
                     {{DNNL_ARG_SRC_0, main_diff_adapter_.Adapt(from_main, src_desc_, context_)},
                      {DNNL_ARG_SRC_1, shortcut_diff_adapter_.Adapt(from_shortcut, src_desc_, context_)},
                      {DNNL_ARG_DST, diff_src_}});
  return diff_src_;
}

}  // namespace

StatusOr<std::unique_ptr<Layer>> MakeResidualLayer(const ResidualLayerParams& params, Chain main, Chain shortcut,
                                                   const memory::desc& src, bool needs_diff_src,
                                                   const LayerContext& context) {
  if (main.empty()) return InvalidArgument("residual block '" + params.name + "' has no main branch");
  if (shortcut.empty() && main.back()->dst_desc().dims() != src.dims()) {
    return InvalidArgument("residual block '" + params.name +
                           "' changes its input's shape, so its shortcut needs a projection");
  }
  auto layer = std::make_unique<ResidualLayer>(context, std::move(main), std::move(shortcut));
  try {
    layer->Init(src, needs_diff_src);
  } catch (const dnnl::error& e) {
    return Internal("residual block '" + params.name + "': oneDNN rejected the primitive: " + e.what());
  }
  return std::unique_ptr<Layer>(std::move(layer));
}

}  // namespace fovea::trainer
