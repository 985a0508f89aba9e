// Pooling layer (max with workspace, average, global average) on oneDNN pooling_v2. Global average pooling is the
// same primitive with the window set to the whole image.

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
  engine::ops::WindowAttributes attributes = params.window;
  if (params.global) {
    attributes = engine::ops::WindowAttributes{};
    attributes.kernel = {x[2], x[3]};
  }
  FOVEA_ASSIGN_OR_RETURN(auto window, engine::ops::ResolveWindow(attributes, {x[2], x[3]}, {}));
  const memory::dims strides = {window.strides[0], window.strides[1]};
  const memory::dims kernel = {window.kernel[0], window.kernel[1]};
  const memory::dims dilation = {window.dilations[0] - 1, window.dilations[1] - 1};
  const memory::dims padding_l = {window.pads_begin[0], window.pads_begin[1]};
  const memory::dims padding_r = {window.pads_end[0], window.pads_end[1]};
  const memory::dims dst_dims = {x[0], x[1], window.output[0], window.output[1]};
  const auto algorithm = params.kind == PoolLayerParams::Kind::kMax ? dnnl::algorithm::pooling_max
                                                                    : dnnl::algorithm::pooling_avg_exclude_padding;
  const auto prop = context_.training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const memory::desc dst_any(dst_dims, memory::data_type::f32, memory::format_tag::any);
  const dnnl::pooling_v2_forward::desc desc(prop, algorithm, src, dst_any, strides, kernel, dilation, padding_l,
                                            padding_r);
  forward_pd_ = dnnl::pooling_v2_forward::primitive_desc(desc, context_.engine);
  forward_ = dnnl::pooling_v2_forward(forward_pd_);
  src_desc_ = src;
  dst_desc_ = forward_pd_.dst_desc();
  dst_ = NewMemory(dst_desc_, context_);
  if (!context_.training) return OkStatus();
  // Max pooling remembers where each maximum came from so backward can route the gradient there.
  if (forward_pd_.workspace_desc().get_size() > 0) workspace_ = NewMemory(forward_pd_.workspace_desc(), context_);
  const dnnl::pooling_v2_backward::desc backward_desc(algorithm, src, dst_desc_, strides, kernel, dilation, padding_l,
                                                      padding_r);
  backward_pd_ = dnnl::pooling_v2_backward::primitive_desc(backward_desc, context_.engine, forward_pd_);
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
