#include "tests/engine/localization/test_networks.h"

#include <cmath>

#include "engine/ops/activation.h"
#include "engine/ops/binary.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pool.h"
#include "engine/ops/softmax.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

Tensor Weights(const Shape& shape, uint32_t seed) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(NumElements(shape) / shape[0]));
  return RandomTensor(shape, seed, -bound, bound);
}

}  // namespace

NetBuilder::NetBuilder(int64_t channels, int64_t height, int64_t width)
    : channels_(channels), height_(height), width_(width) {
  graph_.inputs = {{"image", DataType::kFloat32, {-1, channels, height, width}}};
}

std::string NetBuilder::Next(const std::string& kind) { return kind + std::to_string(++layers_); }

NetBuilder& NetBuilder::Conv(int64_t out_channels, int64_t kernel, int64_t pad, bool relu) {
  const std::string name = Next("conv");
  ops::ConvParams params;
  params.window.pads_begin = params.window.pads_end = {pad, pad};
  graph_.initializers[name + ".w"] = Weights({out_channels, channels_, kernel, kernel}, NextSeed());
  graph_.initializers[name + ".b"] = RandomTensor({out_channels}, NextSeed(), -0.1f, 0.1f);
  AddNode(graph_, name, ops::Conv::Create(params), {last_, name + ".w", name + ".b"}, {name});
  last_ = name;
  channels_ = out_channels;
  height_ = height_ + 2 * pad - kernel + 1;
  width_ = width_ + 2 * pad - kernel + 1;
  return relu ? Relu() : *this;
}

NetBuilder& NetBuilder::MaxPool(int64_t size) {
  const std::string name = Next("maxpool");
  ops::PoolParams params;
  params.window.kernel = params.window.strides = {size, size};
  AddNode(graph_, name, ops::Pool::Create(params), {last_}, {name});
  last_ = name;
  height_ /= size;
  width_ /= size;
  return *this;
}

NetBuilder& NetBuilder::GlobalAveragePool() {
  const std::string name = Next("gap");
  ops::PoolParams params;
  params.kind = ops::PoolParams::Kind::kAverage;
  params.global = true;
  AddNode(graph_, name, ops::Pool::Create(params), {last_}, {name});
  last_ = name;
  height_ = width_ = 1;
  return *this;
}

NetBuilder& NetBuilder::Flatten() {
  const std::string name = Next("flatten");
  AddNode(graph_, name, ops::Flatten::Create({.axis = 1}), {last_}, {name});
  last_ = name;
  features_ = channels_ * height_ * width_;
  return *this;
}

NetBuilder& NetBuilder::Gemm(int64_t outputs) {
  const std::string name = Next("fc");
  graph_.initializers[name + ".w"] = Weights({outputs, features_}, NextSeed());
  graph_.initializers[name + ".b"] = RandomTensor({outputs}, NextSeed(), -0.1f, 0.1f);
  AddNode(graph_, name, ops::Gemm::Create({.trans_b = true}), {last_, name + ".w", name + ".b"}, {name});
  last_ = name;
  features_ = outputs;
  return *this;
}

NetBuilder& NetBuilder::Relu() {
  const std::string name = Next("relu");
  AddNode(graph_, name, ops::Activation::Create({ops::ActivationKind::kRelu}), {last_}, {name});
  last_ = name;
  return *this;
}

NetBuilder& NetBuilder::Softmax() {
  const std::string name = Next("softmax");
  AddNode(graph_, name, ops::Softmax::Create({.axis = 1}), {last_}, {name});
  last_ = name;
  return *this;
}

NetBuilder& NetBuilder::Residual() {
  const std::string input = last_;
  Conv(channels_, 3, 1).Conv(channels_, 3, 1, /*relu=*/false);
  const std::string name = Next("add");
  AddNode(graph_, name, ops::Binary::Create({ops::BinaryKind::kAdd}), {last_, input}, {name});
  last_ = name;
  return Relu();
}

NetBuilder& NetBuilder::Inception(int64_t a, int64_t b) {
  const std::string input = last_;
  const int64_t channels = channels_;
  Conv(a, 1, 0);
  const std::string first = last_;
  last_ = input;
  channels_ = channels;
  Conv(b, 3, 1);
  const std::string second = last_;
  const std::string pool = Next("maxpool");
  ops::PoolParams params;
  params.window.kernel = {3, 3};
  params.window.strides = {1, 1};
  params.window.pads_begin = params.window.pads_end = {1, 1};
  AddNode(graph_, pool, ops::Pool::Create(params), {input}, {pool});
  const std::string name = Next("concat");
  AddNode(graph_, name, ops::Concat::Create({.axis = 1}), {first, second, pool}, {name});
  last_ = name;
  channels_ = a + b + channels;
  return *this;
}

NetBuilder& NetBuilder::UnpaddedInception(int64_t a, int64_t b) {
  const std::string input = last_;
  const int64_t channels = channels_, height = height_, width = width_;
  Conv(a, 3, 0);
  const std::string first = last_;
  last_ = input;
  channels_ = channels;
  height_ = height;
  width_ = width;
  Conv(b, 1, 0).Conv(b, 3, 0);
  const std::string name = Next("concat");
  AddNode(graph_, name, ops::Concat::Create({.axis = 1}), {first, last_}, {name});
  last_ = name;
  channels_ = a + b;
  return *this;
}

NetBuilder& NetBuilder::SqueezeExcite(int64_t reduced) {
  const std::string input = last_;
  const int64_t channels = channels_, height = height_, width = width_;
  GlobalAveragePool().Conv(reduced, 1, 0).Conv(channels, 1, 0, /*relu=*/false);
  const std::string sigmoid = Next("sigmoid");
  AddNode(graph_, sigmoid, ops::Activation::Create({ops::ActivationKind::kSigmoid}), {last_}, {sigmoid});
  const std::string name = Next("mul");
  AddNode(graph_, name, ops::Binary::Create({ops::BinaryKind::kMul}), {sigmoid, input}, {name});
  last_ = name;
  height_ = height;
  width_ = width;
  return *this;
}

NetBuilder& NetBuilder::Silu() {
  const std::string input = last_;
  const std::string sigmoid = Next("sigmoid");
  AddNode(graph_, sigmoid, ops::Activation::Create({ops::ActivationKind::kSigmoid}), {input}, {sigmoid});
  const std::string name = Next("mul");
  AddNode(graph_, name, ops::Binary::Create({ops::BinaryKind::kMul}), {input, sigmoid}, {name});
  last_ = name;
  return *this;
}

NetBuilder& NetBuilder::HardSwish() {
  const std::string name = Next("hardswish");
  AddNode(graph_, name, ops::Activation::Create({ops::ActivationKind::kHardSwish}), {last_}, {name});
  last_ = name;
  return *this;
}

Graph NetBuilder::Build() const {
  Graph graph = graph_;
  graph.outputs = {{last_, DataType::kFloat32, {}}};
  return graph;
}

}  // namespace fovea::engine::testing
