#pragma once
// Architecture specs: a short comma-separated text such as "c32,c32,p,c64,c64,p,c128,gap", or a preset name, expanded
// into the concrete layer sequence the trainer compiles and the exporter writes.
//
// Tokens:  cN[kK][sS]  convolution with N filters (kernel K, default 3; stride S, default 1; "same" padding),
//                      followed by batch normalization and ReLU (one fused layer)
//          rN[sS]      residual block (ResNet's "basic block"): two 3x3 convolutions with N filters, each with batch
//                      normalization, the first with stride S (default 1) and a ReLU; the input added (through a
//                      1x1 convolution with stride S and batch normalization when the shape changes), then a ReLU
//          p[K][sS]    max pooling (window K, default 2; stride S, default K)
//          a[K][sS]    average pooling
//          gap         global average pooling
//          fcN         fully connected layer with N outputs, followed by ReLU
// The classifier (fully connected to the class count) is appended automatically.

#include <string>
#include <variant>
#include <vector>

#include "engine/ops/activation.h"
#include "engine/tensor.h"
#include "trainer/layers/layers.h"

namespace fovea::trainer {

// One concrete layer: its name (the parameter prefix) and kind-specific parameters.
using LayerParams = std::variant<ConvLayerParams, BatchNormLayerParams, engine::ops::ActivationParams, PoolLayerParams,
                                 LinearLayerParams, ResidualLayerParams, FrozenLayerParams>;
struct LayerDef {
  std::string name;
  LayerParams params;
  int64_t out_features = 0;  // conv filters or linear outputs (0 for other kinds)
  int64_t kernel = 0;        // conv kernel size
};

// The layers of a residual block's two branches for an input with `in_channels` channels: the main branch
// (conv, bn+relu, conv, bn) and the shortcut (empty for the identity; conv 1x1, bn when the stride or the channel
// count changes). Every trainer stage (parameters, compilation, export) expands a block through this one function.
struct ResidualBranches {
  std::vector<LayerDef> main, shortcut;
};
ResidualBranches ExpandResidual(const LayerDef& block, int64_t in_channels);

// Returns the spec of a named preset ("default", "small", "tiny", "wide") or `text` itself when it is not a name.
std::string ResolvePreset(const std::string& text);
// Names of the presets with their specs, for --help.
std::vector<std::pair<std::string, std::string>> Presets();

// Parses `spec` (or a preset name) and appends the classifier for `num_classes`. Errors name the bad token.
StatusOr<std::vector<LayerDef>> ParseNetworkSpec(const std::string& spec, int64_t num_classes);

// The output shape of `layer` for input `shape` ([N, C, H, W] or [N, F]). Errors name the layer.
StatusOr<engine::Shape> OutputShape(const LayerDef& layer, const engine::Shape& shape);

}  // namespace fovea::trainer
