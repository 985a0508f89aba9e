#pragma once
// Factories for the trainer's layer kinds (one .cc per kind). Each compiles oneDNN primitives for the input layout
// `src` (whose dims fix the batch size) and finds its parameters in `params` by name; `needs_diff_src` is false for
// the first layer, whose input gradient nobody reads.

#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "engine/ops/activation.h"
#include "engine/ops/pool.h"
#include "engine/ops/spatial.h"
#include "trainer/layers/layer.h"
#include "trainer/parameters.h"

namespace fovea::trainer {

// Convolution; parameters "<name>.weight" [O, C, kH, kW] and, with bias, "<name>.bias" [O].
struct ConvLayerParams {
  std::string name;
  engine::ops::WindowAttributes window;  // kernel taken from the weight shape
  bool bias = false;
};

// Max or average pooling over a window, or over the whole image (global average pooling): the engine's pooling op.
using PoolLayerParams = engine::ops::PoolParams;

// Batch normalization over channels; parameters "<name>.scale", "<name>.shift" (trainable) and
// "<name>.running_mean", "<name>.running_var" (state updated by training forward passes). With fuse_relu, a ReLU
// follows in the same oneDNN pass (one read and write of the tensor less, forward and backward).
struct BatchNormLayerParams {
  std::string name;
  float epsilon = 1e-5f;
  float momentum = 0.1f;  // running = (1 - momentum) * running + momentum * batch, as PyTorch
  bool fuse_relu = false;
};

// Fully connected; parameters "<name>.weight" [O, C, (H, W)] matching the input's dims, and "<name>.bias" [O].
// The output is plain [N, O].
struct LinearLayerParams {
  std::string name;
};

// A residual block's identity: which branch layers run and how they meet. The block computes
// relu(main(x) + shortcut(x)), where shortcut is the identity when it has no layers (network_spec.h says which
// layers the spec puts in each branch).
struct ResidualLayerParams {
  std::string name;
  int64_t stride = 1;  // of the block's first convolution and of its projection shortcut
};

// A frozen backbone: `model` (one image input [N, C, H, W], one output [N, features]) run by the engine in inference
// mode; it has no parameters the trainer updates and no input gradient, so it can only be the first layer.
struct FrozenLayerParams {
  std::string name;
  std::shared_ptr<const engine::Model> model;
  int64_t features = 0;
};

StatusOr<std::unique_ptr<Layer>> MakeConvLayer(const ConvLayerParams& params, ParameterStore& store,
                                               const dnnl::memory::desc& src, bool needs_diff_src,
                                               const LayerContext& context);
StatusOr<std::unique_ptr<Layer>> MakePoolLayer(const PoolLayerParams& params, const dnnl::memory::desc& src,
                                               const LayerContext& context);
StatusOr<std::unique_ptr<Layer>> MakeBatchNormLayer(const BatchNormLayerParams& params, ParameterStore& store,
                                                    const dnnl::memory::desc& src, const LayerContext& context);
StatusOr<std::unique_ptr<Layer>> MakeActivationLayer(const engine::ops::ActivationParams& params,
                                                     const dnnl::memory::desc& src, const LayerContext& context);
StatusOr<std::unique_ptr<Layer>> MakeLinearLayer(const LinearLayerParams& params, ParameterStore& store,
                                                 const dnnl::memory::desc& src, bool needs_diff_src,
                                                 const LayerContext& context);

// The block relu(main(x) + shortcut(x)) from its compiled branches (each compiled for `src`, in order; an empty
// shortcut is the identity). The sum and the ReLU run as one oneDNN binary primitive with a ReLU post-op; the
// backward pass sends the same gradient down both branches and adds what they return.
StatusOr<std::unique_ptr<Layer>> MakeResidualLayer(const ResidualLayerParams& params,
                                                   std::vector<std::unique_ptr<Layer>> main,
                                                   std::vector<std::unique_ptr<Layer>> shortcut,
                                                   const dnnl::memory::desc& src, bool needs_diff_src,
                                                   const LayerContext& context);

StatusOr<std::unique_ptr<Layer>> MakeFrozenLayer(const FrozenLayerParams& params, const dnnl::memory::desc& src,
                                                 bool needs_diff_src, const LayerContext& context);

// The parameter `name` with exactly `shape`, or an error naming it.
StatusOr<Parameter*> FindParameter(ParameterStore& store, const std::string& name, const engine::Shape& shape);

}  // namespace fovea::trainer
