// Batch normalization layer: batch statistics and running-average updates in training, running statistics in
// inference (what ONNX BatchNormalization computes, and what the engine folds into the convolution before it).

#include "trainer/layers/layers.h"

namespace fovea::trainer {
namespace {

using dnnl::memory;
using Flags = dnnl::normalization_flags;

class BatchNormLayer final : public Layer {
 public:
  BatchNormLayer(LayerContext context, BatchNormLayerParams params)
      : context_(std::move(context)), params_(std::move(params)) {}

  Status Init(ParameterStore& store, const memory::desc& src);
  const memory::desc& dst_desc() const override { return src_desc_; }
  const memory& Forward(const memory& src) override;
  memory Backward(const memory& diff_dst) override;

 private:
  void UpdateRunningStatistics();

  LayerContext context_;
  BatchNormLayerParams params_;
  Parameter *scale_ = nullptr, *shift_ = nullptr, *running_mean_ = nullptr, *running_var_ = nullptr;
  memory::desc src_desc_;
  int64_t values_per_channel_ = 0;  // N * H * W: the sample size behind each batch statistic
  dnnl::batch_normalization_forward::primitive_desc forward_pd_;
  dnnl::batch_normalization_forward forward_;
  dnnl::batch_normalization_backward::primitive_desc backward_pd_;
  dnnl::batch_normalization_backward backward_;
  memory scale_memory_, shift_memory_, mean_, variance_, dst_, saved_src_, workspace_;
  memory diff_src_, diff_scale_, diff_shift_;
  LayoutAdapter diff_dst_adapter_;
};

Status BatchNormLayer::Init(ParameterStore& store, const memory::desc& src) {
  const memory::dims x = src.dims();
  if (x.size() < 2) return InvalidArgument("batch norm '" + params_.name + "' needs an [N, C, ...] input");
  const engine::Shape channels = {x[1]};
  FOVEA_ASSIGN_OR_RETURN(scale_, FindParameter(store, params_.name + ".scale", channels));
  FOVEA_ASSIGN_OR_RETURN(shift_, FindParameter(store, params_.name + ".shift", channels));
  FOVEA_ASSIGN_OR_RETURN(running_mean_, FindParameter(store, params_.name + ".running_mean", channels));
  FOVEA_ASSIGN_OR_RETURN(running_var_, FindParameter(store, params_.name + ".running_var", channels));
  src_desc_ = src;
  values_per_channel_ = 1;
  for (size_t i = 0; i < x.size(); ++i) values_per_channel_ *= i == 1 ? 1 : x[i];
  const memory::desc channel_desc = PlainF32({x[1]});
  scale_memory_ = memory(channel_desc, context_.engine, scale_->value.data());
  shift_memory_ = memory(channel_desc, context_.engine, shift_->value.data());
  const Flags flags = Flags::use_scale | Flags::use_shift | (params_.fuse_relu ? Flags::fuse_norm_relu : Flags::none);
  if (context_.training) {
    const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_training, src, params_.epsilon, flags);
    forward_pd_ = dnnl::batch_normalization_forward::primitive_desc(desc, context_.engine);
    mean_ = NewMemory(forward_pd_.mean_desc(), context_);
    variance_ = NewMemory(forward_pd_.variance_desc(), context_);
    // The fused ReLU's backward needs to know which outputs were clipped.
    if (params_.fuse_relu) workspace_ = NewMemory(forward_pd_.workspace_desc(), context_);
    const dnnl::batch_normalization_backward::desc backward_desc(dnnl::prop_kind::backward, src, src, params_.epsilon,
                                                                 flags);
    backward_pd_ = dnnl::batch_normalization_backward::primitive_desc(backward_desc, context_.engine, forward_pd_);
    backward_ = dnnl::batch_normalization_backward(backward_pd_);
    diff_src_ = NewMemory(backward_pd_.diff_src_desc(), context_);
    diff_scale_ = memory(channel_desc, context_.engine, scale_->grad.data());
    diff_shift_ = memory(channel_desc, context_.engine, shift_->grad.data());
  } else {
    const dnnl::batch_normalization_forward::desc desc(dnnl::prop_kind::forward_inference, src, params_.epsilon,
                                                       flags | Flags::use_global_stats);
    forward_pd_ = dnnl::batch_normalization_forward::primitive_desc(desc, context_.engine);
    mean_ = memory(channel_desc, context_.engine, running_mean_->value.data());
    variance_ = memory(channel_desc, context_.engine, running_var_->value.data());
  }
  forward_ = dnnl::batch_normalization_forward(forward_pd_);
  dst_ = NewMemory(forward_pd_.dst_desc(), context_);
  return OkStatus();
}

void BatchNormLayer::UpdateRunningStatistics() {
  context_.stream.wait();
  const auto* mean = static_cast<const float*>(mean_.get_data_handle());
  const auto* variance = static_cast<const float*>(variance_.get_data_handle());
  // oneDNN's batch variance divides by the sample size; the running estimate uses the unbiased one, as PyTorch.
  const float unbias = values_per_channel_ > 1
                           ? static_cast<float>(values_per_channel_) / static_cast<float>(values_per_channel_ - 1)
                           : 1.0f;
  const float m = params_.momentum;
  for (size_t c = 0; c < running_mean_->value.size(); ++c) {
    running_mean_->value[c] = (1.0f - m) * running_mean_->value[c] + m * mean[c];
    running_var_->value[c] = (1.0f - m) * running_var_->value[c] + m * variance[c] * unbias;
  }
}

const memory& BatchNormLayer::Forward(const memory& src) {
  saved_src_ = src;
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, src},    {DNNL_ARG_SCALE, scale_memory_}, {DNNL_ARG_SHIFT, shift_memory_},
      {DNNL_ARG_MEAN, mean_}, {DNNL_ARG_VARIANCE, variance_},  {DNNL_ARG_DST, dst_}};
  if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
  forward_.execute(context_.stream, args);
  if (context_.training) UpdateRunningStatistics();
  return dst_;
}

memory BatchNormLayer::Backward(const memory& diff_dst) {
  const memory dd = diff_dst_adapter_.Adapt(diff_dst, backward_pd_.diff_dst_desc(), context_);
  std::unordered_map<int, memory> args = {
      {DNNL_ARG_SRC, saved_src_},        {DNNL_ARG_MEAN, mean_},
      {DNNL_ARG_VARIANCE, variance_},    {DNNL_ARG_DIFF_DST, dd},
      {DNNL_ARG_SCALE, scale_memory_},   {DNNL_ARG_SHIFT, shift_memory_},  // oneDNN 2.6 requires it with use_shift
      {DNNL_ARG_DIFF_SRC, diff_src_},    {DNNL_ARG_DIFF_SCALE, diff_scale_},
      {DNNL_ARG_DIFF_SHIFT, diff_shift_}};
  if (workspace_) args[DNNL_ARG_WORKSPACE] = workspace_;
  backward_.execute(context_.stream, args);
  return diff_src_;
}

}  // namespace

StatusOr<std::unique_ptr<Layer>> MakeBatchNormLayer(const BatchNormLayerParams& params, ParameterStore& store,
                                                    const memory::desc& src, const LayerContext& context) {
  auto layer = std::make_unique<BatchNormLayer>(context, params);
  try {
    FOVEA_RETURN_IF_ERROR(layer->Init(store, src));
  } catch (const dnnl::error& e) {
    return Internal("batch norm '" + params.name + "': oneDNN rejected the primitive: " + e.what());
  }
  return std::unique_ptr<Layer>(std::move(layer));
}

}  // namespace fovea::trainer
