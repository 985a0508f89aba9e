#include "trainer/network_spec.h"

#include <cctype>
#include <sstream>

namespace fovea::trainer {
namespace {

constexpr int64_t kDefaultConvKernel = 3;
constexpr int64_t kDefaultPoolWindow = 2;
constexpr int64_t kMaxWidth = 4096;

// Reads the number right after position `pos` (none → `fallback`), advancing `pos`; -1 when it is malformed.
int64_t ReadNumber(const std::string& token, size_t& pos, int64_t fallback) {
  if (pos >= token.size() || !std::isdigit(static_cast<unsigned char>(token[pos]))) return fallback;
  int64_t value = 0;
  while (pos < token.size() && std::isdigit(static_cast<unsigned char>(token[pos]))) {
    value = value * 10 + (token[pos++] - '0');
    if (value > kMaxWidth) return -1;
  }
  return value;
}

// Parses the optional "kK" and "sS" suffixes after a token's first number.
bool ReadSuffixes(const std::string& token, size_t pos, int64_t& kernel, int64_t& stride) {
  while (pos < token.size()) {
    const char key = token[pos++];
    const int64_t value = ReadNumber(token, pos, -1);
    if (value <= 0) return false;
    if (key == 'k') {
      kernel = value;
    } else if (key == 's') {
      stride = value;
    } else {
      return false;
    }
  }
  return true;
}

Status BadToken(const std::string& token) {
  return InvalidArgument("architecture token '" + token +
                         "' is not one of cN[kK][sS], rN[sS], p[K][sS], a[K][sS], gap, fcN (see --help)");
}

// A convolution with "same" padding and no bias, as every conv token and residual branch uses.
LayerDef SameConv(const std::string& name, int64_t filters, int64_t kernel, int64_t stride) {
  const int64_t pad = kernel / 2;
  ConvLayerParams conv{name, {}, false};
  conv.window.strides = {stride, stride};
  conv.window.pads_begin = conv.window.pads_end = {pad, pad};
  return {name, conv, filters, kernel};
}

LayerDef BatchNorm(const std::string& name, bool fuse_relu) {
  BatchNormLayerParams bn{name};
  bn.fuse_relu = fuse_relu;
  return {name, bn};
}

struct TokenCounts {
  int conv = 0, fc = 0, residual = 0;
};

Status AppendToken(const std::string& token, std::vector<LayerDef>& layers, TokenCounts& counts) {
  const engine::ops::ActivationParams relu{engine::ops::ActivationKind::kRelu};
  if (token == "gap") {
    layers.push_back({"gap", PoolLayerParams{PoolLayerParams::Kind::kAverage, true, {}}});
    return OkStatus();
  }
  if (token.rfind("fc", 0) == 0) {
    size_t pos = 2;
    const int64_t width = ReadNumber(token, pos, -1);
    if (width <= 0 || pos != token.size()) return BadToken(token);
    const std::string name = "fc" + std::to_string(++counts.fc);
    layers.push_back({name, LinearLayerParams{name}, width});
    layers.push_back({name + ".relu", relu});
    return OkStatus();
  }
  if (token.empty()) return BadToken(token);
  size_t pos = 1;
  if (token[0] == 'c') {
    const int64_t filters = ReadNumber(token, pos, -1);
    int64_t kernel = kDefaultConvKernel, stride = 1;
    if (filters <= 0 || !ReadSuffixes(token, pos, kernel, stride)) return BadToken(token);
    const std::string index = std::to_string(++counts.conv);
    layers.push_back(SameConv("conv" + index, filters, kernel, stride));
    // The block's ReLU runs fused into the batch normalization (exported as its own Relu node).
    layers.push_back(BatchNorm("bn" + index, true));
    return OkStatus();
  }
  if (token[0] == 'r') {
    const int64_t filters = ReadNumber(token, pos, -1);
    int64_t kernel = kDefaultConvKernel, stride = 1;
    if (filters <= 0 || !ReadSuffixes(token, pos, kernel, stride) || kernel != kDefaultConvKernel) {
      return BadToken(token);
    }
    const std::string name = "res" + std::to_string(++counts.residual);
    layers.push_back({name, ResidualLayerParams{name, stride}, filters, kDefaultConvKernel});
    return OkStatus();
  }
  if (token[0] == 'p' || token[0] == 'a') {
    int64_t window = ReadNumber(token, pos, kDefaultPoolWindow), stride = -1, ignored = 0;
    if (window <= 0 || !ReadSuffixes(token, pos, ignored, stride) || ignored != 0) return BadToken(token);
    if (stride < 0) stride = window;
    const auto kind = token[0] == 'p' ? PoolLayerParams::Kind::kMax : PoolLayerParams::Kind::kAverage;
    const std::string name = (token[0] == 'p' ? "maxpool" : "avgpool") + std::to_string(layers.size());
    PoolLayerParams pool{kind, false, {}};
    pool.window.kernel = {window, window};
    pool.window.strides = {stride, stride};
    layers.push_back({name, pool});
    return OkStatus();
  }
  return BadToken(token);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Presets() {
  return {{"default", "c32,c32,p,c64,c64,p,c128,c128,gap"},
          {"small", "c32,p,c64,p,c128,gap"},
          {"tiny", "c8,p,c16,p,gap"},
          {"wide", "c64,c64,p,c128,c128,p,c256,c256,gap"},
          {"residual", "c32,r32,r64s2,r128s2,gap"}};
}

std::string ResolvePreset(const std::string& text) {
  for (const auto& [name, spec] : Presets()) {
    if (name == text) return spec;
  }
  return text;
}

StatusOr<std::vector<LayerDef>> ParseNetworkSpec(const std::string& spec, int64_t num_classes) {
  if (num_classes < 2)
    return InvalidArgument("a classifier needs at least 2 classes, got " + std::to_string(num_classes));
  std::vector<LayerDef> layers;
  TokenCounts counts;
  std::stringstream stream(ResolvePreset(spec));
  std::string token;
  while (std::getline(stream, token, ',')) {
    token.erase(0, token.find_first_not_of(" \t"));
    token.erase(token.find_last_not_of(" \t") + 1);
    FOVEA_RETURN_IF_ERROR(AppendToken(token, layers, counts));
  }
  if (layers.empty()) return InvalidArgument("architecture '" + spec + "' has no layers");
  layers.push_back({"classifier", LinearLayerParams{"classifier"}, num_classes});
  return layers;
}

ResidualBranches ExpandResidual(const LayerDef& block, int64_t in_channels) {
  const auto& params = std::get<ResidualLayerParams>(block.params);
  const std::string& name = block.name;
  ResidualBranches branches;
  branches.main = {SameConv(name + ".conv1", block.out_features, kDefaultConvKernel, params.stride),
                   BatchNorm(name + ".bn1", true), SameConv(name + ".conv2", block.out_features, kDefaultConvKernel, 1),
                   BatchNorm(name + ".bn2", false)};
  if (params.stride != 1 || in_channels != block.out_features) {
    branches.shortcut = {SameConv(name + ".projection", block.out_features, 1, params.stride),
                         BatchNorm(name + ".projection_bn", false)};
  }
  return branches;
}

StatusOr<engine::Shape> OutputShape(const LayerDef& layer, const engine::Shape& shape) {
  if (std::holds_alternative<ResidualLayerParams>(layer.params)) {
    engine::Shape out = shape;
    for (const LayerDef& inner : ExpandResidual(layer, shape[1]).main) {
      FOVEA_ASSIGN_OR_RETURN(out, OutputShape(inner, out));
    }
    return out;
  }
  if (const auto* linear = std::get_if<LinearLayerParams>(&layer.params)) {
    (void)linear;
    return engine::Shape{shape[0], layer.out_features};
  }
  if (const auto* frozen = std::get_if<FrozenLayerParams>(&layer.params)) {
    return engine::Shape{shape[0], frozen->features};
  }
  if (const auto* conv = std::get_if<ConvLayerParams>(&layer.params)) {
    if (shape.size() != 4) return InvalidArgument(layer.name + " needs an image input, not a flat vector");
    auto w = engine::ops::ResolveWindow(conv->window, {shape[2], shape[3]}, {layer.kernel, layer.kernel});
    if (!w.ok()) return w.status().WithContext("layer '" + layer.name + "'");
    return engine::Shape{shape[0], layer.out_features, w->output[0], w->output[1]};
  }
  if (const auto* pool = std::get_if<PoolLayerParams>(&layer.params)) {
    if (shape.size() != 4) return InvalidArgument(layer.name + " needs an image input, not a flat vector");
    if (pool->global) return engine::Shape{shape[0], shape[1], 1, 1};
    auto w = engine::ops::ResolveWindow(pool->window, {shape[2], shape[3]}, {});
    if (!w.ok()) return w.status().WithContext("layer '" + layer.name + "'");
    return engine::Shape{shape[0], shape[1], w->output[0], w->output[1]};
  }
  return shape;
}

}  // namespace fovea::trainer
