// Frozen backbone layer: a source model's layers up to its final fully connected one, run by the engine (as the server
// runs them: folded batch normalization, fused post-ops, running statistics) and never updated. Fine-tuning puts it
// first, so nothing asks for its input gradient (trainer/finetune.h).

#include <cstring>

#include "engine/session.h"
#include "trainer/layers/layers.h"

namespace fovea::trainer {
namespace {

using dnnl::memory;

class FrozenLayer final : public Layer {
 public:
  FrozenLayer(LayerContext context, FrozenLayerParams params)
      : context_(std::move(context)), params_(std::move(params)) {}

  Status Init(const memory::desc& src);
  const memory::desc& dst_desc() const override { return dst_desc_; }
  const memory& Forward(const memory& src) override;
  memory Backward(const memory& /*diff_dst*/) override { return {}; }

 private:
  LayerContext context_;
  FrozenLayerParams params_;
  std::unique_ptr<engine::Session> session_;
  engine::Shape input_shape_;
  memory::desc dst_desc_;
  memory dst_;
};

Status FrozenLayer::Init(const memory::desc& src) {
  if (src != PlainF32(src.dims())) {
    return InvalidArgument("frozen backbone '" + params_.name + "' reads the plain network input; put it first");
  }
  const memory::dims x = src.dims();
  input_shape_.assign(x.begin(), x.end());
  FOVEA_ASSIGN_OR_RETURN(session_, engine::Session::Create(params_.model));
  dst_desc_ = PlainF32({x[0], params_.features});
  dst_ = NewMemory(dst_desc_, context_);
  return OkStatus();
}

const memory& FrozenLayer::Forward(const memory& src) {
  context_.stream.wait();  // the input may come from a oneDNN primitive still running
  const auto* pixels = static_cast<const float*>(src.get_data_handle());
  const engine::Tensor input =
      engine::Tensor::FromFloats(input_shape_, {pixels, static_cast<size_t>(engine::NumElements(input_shape_))});
  // The shapes were checked when the network was built (one batch ran through the backbone); a failure now is a
  // broken invariant, not bad input.
  StatusOr<std::vector<engine::Tensor>> outputs = session_->Run({&input, 1});
  if (!outputs.ok()) throw std::runtime_error("frozen backbone '" + params_.name + "': " + outputs.status().ToString());
  const engine::Tensor& features = outputs->front();
  if (features.num_elements() != input_shape_[0] * params_.features) {
    throw std::runtime_error("frozen backbone '" + params_.name + "' returned " +
                             engine::ShapeToString(features.shape()) + " features");
  }
  std::memcpy(dst_.get_data_handle(), features.floats().data(), sizeof(float) * features.floats().size());
  return dst_;
}

}  // namespace

StatusOr<std::unique_ptr<Layer>> MakeFrozenLayer(const FrozenLayerParams& params, const memory::desc& src,
                                                 bool needs_diff_src, const LayerContext& context) {
  if (needs_diff_src) {
    return InvalidArgument("frozen backbone '" + params.name + "' must be the first layer: it has no input gradient");
  }
  auto layer = std::make_unique<FrozenLayer>(context, params);
  FOVEA_RETURN_IF_ERROR(layer->Init(src));
  return std::unique_ptr<Layer>(std::move(layer));
}

}  // namespace fovea::trainer
