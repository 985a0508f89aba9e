#pragma once
// Network: a parsed architecture with its parameters (created and initialized here), and CompiledNetwork: the same
// network compiled into oneDNN layers for one batch size, for training (forward + backward) or inference.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "trainer/network_spec.h"
#include "trainer/parameters.h"

namespace fovea::trainer {

// What the network reads: one image, planar CHW.
struct InputGeometry {
  int64_t channels = 1;
  int64_t height = 28;
  int64_t width = 28;
};

class CompiledNetwork;

class Network {
 public:
  // Parses `spec` and creates every parameter, initialized from `seed` (He-normal for ReLU layers, PyTorch's
  // uniform bound for the classifier, BatchNorm scale 1 / shift 0 / running variance 1).
  static StatusOr<std::unique_ptr<Network>> Create(const std::string& spec, const InputGeometry& input,
                                                   int64_t num_classes, uint64_t seed);

  // A classifier for `num_classes` on a frozen backbone (fine-tuning, trainer/finetune.h): the backbone, then a new
  // fully connected layer, the only parameters.
  static StatusOr<std::unique_ptr<Network>> CreateOnFrozenBackbone(const FrozenLayerParams& backbone,
                                                                   const InputGeometry& input, int64_t num_classes,
                                                                   uint64_t seed);

  const std::string& spec() const { return spec_; }
  const std::vector<LayerDef>& layers() const { return layers_; }
  const InputGeometry& input() const { return input_; }
  int64_t num_classes() const { return num_classes_; }
  ParameterStore& parameters() { return parameters_; }
  const ParameterStore& parameters() const { return parameters_; }
  // Input shape of every layer for batch size 1 (layer i reads shapes()[i]; the last entry is the logits' shape).
  const std::vector<engine::Shape>& shapes() const { return shapes_; }

  // Compiles the layers for `batch` images. The result refers to this network's parameters and must not outlive it.
  StatusOr<std::unique_ptr<CompiledNetwork>> Compile(int64_t batch, bool training);

 private:
  Network() = default;
  Status CreateParameters(uint64_t seed);
  Status CreateLayerParameters(const LayerDef& layer, const engine::Shape& shape, std::mt19937_64& rng);
  // Compiles one layer (a residual block with its branches) or a chain of them for the input layout `src`; the
  // chain's first layer computes its input gradient only when `needs_diff_src`.
  StatusOr<std::unique_ptr<Layer>> MakeLayer(const LayerDef& layer, const dnnl::memory::desc& src, bool needs_diff_src,
                                             const LayerContext& context);
  StatusOr<std::vector<std::unique_ptr<Layer>>> MakeChain(const std::vector<LayerDef>& layers, dnnl::memory::desc src,
                                                          bool needs_diff_src, const LayerContext& context);

  std::string spec_;
  InputGeometry input_;
  int64_t num_classes_ = 0;
  std::vector<LayerDef> layers_;
  std::vector<engine::Shape> shapes_;
  ParameterStore parameters_;
};

class CompiledNetwork {
 public:
  CompiledNetwork(int64_t batch, int64_t num_classes, const InputGeometry& input, bool training);

  int64_t batch() const { return batch_; }
  int64_t num_classes() const { return num_classes_; }
  // The plain NCHW input buffer (batch * C * H * W floats) Forward reads.
  float* input() { return static_cast<float*>(input_.get_data_handle()); }
  // Runs every layer and returns the logits, plain [batch, num_classes]; valid until the next Forward.
  const float* Forward();
  // Back-propagates d(loss)/d(logits) (plain [batch, num_classes]), overwriting every parameter's gradient.
  void Backward(const float* diff_logits);

 private:
  friend class Network;
  LayerContext context_;
  int64_t batch_, num_classes_;
  dnnl::memory input_;
  dnnl::memory diff_logits_;
  std::vector<std::unique_ptr<Layer>> layers_;
};

}  // namespace fovea::trainer
