#include "trainer/network.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace fovea::trainer {
namespace {

void FillNormal(std::vector<float>& values, float stddev, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, stddev);
  for (float& v : values) v = normal(rng);
}

void FillUniform(std::vector<float>& values, float bound, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> uniform(-bound, bound);
  for (float& v : values) v = uniform(rng);
}

// He initialization keeps activation variance constant through ReLU layers.
float HeStddev(const engine::Shape& weight_shape) {
  const int64_t fan_in = engine::NumElements(weight_shape) / weight_shape[0];
  return std::sqrt(2.0f / static_cast<float>(fan_in));
}

}  // namespace

StatusOr<std::unique_ptr<Network>> Network::Create(const std::string& spec, const InputGeometry& input,
                                                   int64_t num_classes, uint64_t seed) {
  std::unique_ptr<Network> network(new Network());
  network->spec_ = ResolvePreset(spec);
  network->input_ = input;
  network->num_classes_ = num_classes;
  FOVEA_ASSIGN_OR_RETURN(network->layers_, ParseNetworkSpec(spec, num_classes));
  FOVEA_RETURN_IF_ERROR(network->CreateParameters(seed));
  return network;
}

StatusOr<std::unique_ptr<Network>> Network::CreateOnFrozenBackbone(const FrozenLayerParams& backbone,
                                                                   const InputGeometry& input, int64_t num_classes,
                                                                   uint64_t seed) {
  if (num_classes < 2) {
    return InvalidArgument("a classifier needs at least 2 classes, got " + std::to_string(num_classes));
  }
  std::unique_ptr<Network> network(new Network());
  network->spec_ = "frozen " + backbone.name + " + classifier";
  network->input_ = input;
  network->num_classes_ = num_classes;
  network->layers_ = {{backbone.name, backbone, backbone.features},
                      {"classifier", LinearLayerParams{"classifier"}, num_classes}};
  FOVEA_RETURN_IF_ERROR(network->CreateParameters(seed));
  return network;
}

Status Network::CreateParameters(uint64_t seed) {
  std::mt19937_64 rng(seed);
  engine::Shape shape = {1, input_.channels, input_.height, input_.width};
  shapes_.clear();
  for (const LayerDef& layer : layers_) {
    shapes_.push_back(shape);
    FOVEA_RETURN_IF_ERROR(CreateLayerParameters(layer, shape, rng));
    FOVEA_ASSIGN_OR_RETURN(shape, OutputShape(layer, shape));
  }
  shapes_.push_back(shape);
  return OkStatus();
}

Status Network::CreateLayerParameters(const LayerDef& layer, const engine::Shape& shape, std::mt19937_64& rng) {
  if (std::holds_alternative<ResidualLayerParams>(layer.params)) {
    const ResidualBranches branches = ExpandResidual(layer, shape[1]);
    for (const auto* branch : {&branches.main, &branches.shortcut}) {
      engine::Shape inner_shape = shape;
      for (const LayerDef& inner : *branch) {
        FOVEA_RETURN_IF_ERROR(CreateLayerParameters(inner, inner_shape, rng));
        FOVEA_ASSIGN_OR_RETURN(inner_shape, OutputShape(inner, inner_shape));
      }
    }
    // The block starts as (nearly) the identity, as in "Bag of Tricks" (He et al., 2019): its last batch
    // normalization's scale is zero, so early training sees a shallower network.
    Parameter* last_scale = parameters_.Find(branches.main.back().name + ".scale");
    std::fill(last_scale->value.begin(), last_scale->value.end(), 0.0f);
  } else if (std::holds_alternative<ConvLayerParams>(layer.params)) {
    const engine::Shape w = {layer.out_features, shape[1], layer.kernel, layer.kernel};
    FillNormal(parameters_.Add(layer.name + ".weight", w, true, true).value, HeStddev(w), rng);
  } else if (std::holds_alternative<LinearLayerParams>(layer.params)) {
    engine::Shape w = shape;
    w[0] = layer.out_features;
    Parameter& weight = parameters_.Add(layer.name + ".weight", w, true, true);
    parameters_.Add(layer.name + ".bias", {layer.out_features}, true, false);
    if (layer.name == "classifier") {
      const int64_t fan_in = engine::NumElements(w) / w[0];  // exact: every row has the same length
      FillUniform(weight.value, 1.0f / std::sqrt(static_cast<float>(fan_in)), rng);
    } else {
      FillNormal(weight.value, HeStddev(w), rng);
    }
  } else if (std::holds_alternative<BatchNormLayerParams>(layer.params)) {
    const engine::Shape c = {shape[1]};
    std::fill_n(parameters_.Add(layer.name + ".scale", c, true, false).value.begin(), shape[1], 1.0f);
    parameters_.Add(layer.name + ".shift", c, true, false);
    parameters_.Add(layer.name + ".running_mean", c, false, false);
    std::fill_n(parameters_.Add(layer.name + ".running_var", c, false, false).value.begin(), shape[1], 1.0f);
  }
  return OkStatus();
}

StatusOr<std::unique_ptr<Layer>> Network::MakeLayer(const LayerDef& layer, const dnnl::memory::desc& src,
                                                    bool needs_diff_src, const LayerContext& context) {
  return std::visit(
      [&](const auto& params) -> StatusOr<std::unique_ptr<Layer>> {
        using T = std::decay_t<decltype(params)>;
        if constexpr (std::is_same_v<T, ConvLayerParams>) {
          return MakeConvLayer(params, parameters_, src, needs_diff_src, context);
        } else if constexpr (std::is_same_v<T, BatchNormLayerParams>) {
          return MakeBatchNormLayer(params, parameters_, src, context);
        } else if constexpr (std::is_same_v<T, PoolLayerParams>) {
          return MakePoolLayer(params, src, context);
        } else if constexpr (std::is_same_v<T, LinearLayerParams>) {
          return MakeLinearLayer(params, parameters_, src, needs_diff_src, context);
        } else if constexpr (std::is_same_v<T, FrozenLayerParams>) {
          return MakeFrozenLayer(params, src, needs_diff_src, context);
        } else if constexpr (std::is_same_v<T, ResidualLayerParams>) {
          const ResidualBranches branches = ExpandResidual(layer, src.dims()[1]);
          FOVEA_ASSIGN_OR_RETURN(auto main, MakeChain(branches.main, src, needs_diff_src, context));
          FOVEA_ASSIGN_OR_RETURN(auto shortcut, MakeChain(branches.shortcut, src, needs_diff_src, context));
          return MakeResidualLayer(params, std::move(main), std::move(shortcut), src, needs_diff_src, context);
        } else {
          return MakeActivationLayer(params, src, context);
        }
      },
      layer.params);
}

StatusOr<std::vector<std::unique_ptr<Layer>>> Network::MakeChain(const std::vector<LayerDef>& layers,
                                                                 dnnl::memory::desc src, bool needs_diff_src,
                                                                 const LayerContext& context) {
  std::vector<std::unique_ptr<Layer>> chain;
  for (const LayerDef& layer : layers) {
    StatusOr<std::unique_ptr<Layer>> made = MakeLayer(layer, src, needs_diff_src || !chain.empty(), context);
    if (!made.ok()) return made.status().WithContext("layer " + layer.name);
    src = made.value()->dst_desc();
    chain.push_back(std::move(made).value());
  }
  return chain;
}

StatusOr<std::unique_ptr<CompiledNetwork>> Network::Compile(int64_t batch, bool training) {
  if (batch < 1) return InvalidArgument("batch size must be positive, got " + std::to_string(batch));
  auto compiled = std::make_unique<CompiledNetwork>(batch, num_classes_, input_, training);
  FOVEA_ASSIGN_OR_RETURN(compiled->layers_, MakeChain(layers_, compiled->input_.get_desc(), false, compiled->context_));
  return compiled;
}

CompiledNetwork::CompiledNetwork(int64_t batch, int64_t num_classes, const InputGeometry& input, bool training)
    : batch_(batch), num_classes_(num_classes) {
  context_.engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
  context_.stream = dnnl::stream(context_.engine);
  context_.training = training;
  input_ = NewMemory(PlainF32({batch, input.channels, input.height, input.width}), context_);
  diff_logits_ = NewMemory(PlainF32({batch, num_classes}), context_);
}

const float* CompiledNetwork::Forward() {
  const dnnl::memory* x = &input_;
  for (auto& layer : layers_) x = &layer->Forward(*x);
  context_.stream.wait();
  return static_cast<const float*>(x->get_data_handle());
}

void CompiledNetwork::Backward(const float* diff_logits) {
  std::memcpy(diff_logits_.get_data_handle(), diff_logits, sizeof(float) * static_cast<size_t>(batch_ * num_classes_));
  dnnl::memory diff = diff_logits_;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) diff = (*it)->Backward(diff);
  context_.stream.wait();
}

}  // namespace fovea::trainer
