// Pooling layer (max with workspace, average, global average) on oneDNN pooling_v2, set up by the engine's pooling op
// (engine::ops::Pool::Problem): the same geometry and oneDNN descriptors as inference and Grad-CAM.

#include "trainer/layers/layers.h"

#include <cstring>

namespace fovea::trainer {
namespace {

using dnnl::memory;

class PoolLayer final : public Layer {
 public:
  explicit PoolLayer(LayerContext context) : context_(std::move(context)) {}

  Status Init(const PoolLayerParams& params, const memory::desc& src);
  const memory::desc& dst_desc() const override { return dst_desc_; }
  const memory& Forward(const memory& src) override;
  memory Backward(const memory& diff_dst) override;

 private:
  LayerContext context_;
  memory::desc src_desc_, dst_desc_;
  dnnl::pooling_v2_forward::primitive_desc forward_pd_;
  dnnl::pooling_v2_forward forward_;
  dnnl::pooling_v2_backward::primitive_desc backward_pd_;
  dnnl::pooling_v2_backward backward_;
  memory dst_, workspace_, diff_src_;
  LayoutAdapter diff_dst_adapter_;
};

Status PoolLayer::Init(const PoolLayerParams& params, const memory::desc& src) {
  const memory::dims x = src.dims();
  if (x.size() != 4) return InvalidArgument("pooling needs a 4-D NCHW input");
  FOVEA_ASSIGN_OR_RETURN(const auto pool, engine::ops::Pool::Create(params));
  FOVEA_ASSIGN_OR_RETURN(const engine::ops::PoolProblem problem, pool->Problem(engine::Shape(x.begin(), x.end())));
  const auto prop = context_.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const memory::desc dst_any(problem.dst, memory::data_type::f32, memory::format_tag::any);
  forward_pd_ = dnnl::pooling_v2_forward::primitive_desc(problem.Forward(prop, src, dst_any), context_.engine);
  forward_ = dnnl::pooling_v2_forward(forward_pd_);
  src_desc_ = src;
  dst_desc_ = forward_pd_.dst_desc();
  dst_ = NewMemory(dst_desc_, context_);
  if (!context_.training) return OkStatus();
  // Max pooling remembers where each maximum came from so backward can route the gradient there.
  if (forward_pd_.workspace_desc().get_size() > 0) workspace_ = NewMemory(forward_pd_.workspace_desc(), context_);
  backward_pd_ =
      dnnl::pooling_v2_backward::primitive_desc(problem.Backward(src, dst_desc_), context_.engine, forward_pd_);
  backward_ = dnnl::pooling_v2_backward(backward_pd_);
  diff_src_ = NewMemory(backward_pd_.diff_src_desc(), context_);
  // Channel-padding lanes of a blocked layout are not written by every implementation; keep them zero for readers.
  std::memset(diff_src_.get_data_handle(), 0, backward_pd_.diff_src_desc().get_size());
  return OkStatus();
}

const memory& PoolLayer::Forward(const memory& src) {
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst_}};
  if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
  forward_.execute(context_.stream, args);
  return dst_;
}

memory PoolLayer::Backward(const memory& diff_dst) {
  const memory dd = diff_dst_adapter_.Adapt(diff_dst, backward_pd_.diff_dst_desc(), context_);
  std::unordered_map<int, memory> args = {{DNNL_ARG_DIFF_DST, dd}, {DNNL_ARG_DIFF_SRC, diff_src_}};
  if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
  backward_.execute(context_.stream, args);
  return diff_src_;
}

}  // namespace

StatusOr<std::unique_ptr<Layer>> MakePoolLayer(const PoolLayerParams& params, const memory::desc& src,
                                               const LayerContext& context) {
  auto layer = std::make_unique<PoolLayer>(context);
  try {
    FOVEA_RETURN_IF_ERROR(layer->Init(params, src));
  } catch (const dnnl::error& e) {
    return Internal(std::string("pooling: oneDNN rejected the primitive: ") + e.what());
  }
  return std::unique_ptr<Layer>(std::move(layer));
}

}  // namespace fovea::trainer
