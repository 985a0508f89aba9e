// Numeric gradient checks: every layer kind's backward pass (input and parameter gradients) against central finite
// differences of its own forward pass, plus the loss and a whole network.

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <random>

#include "trainer/layers/layers.h"
#include "trainer/loss.h"
#include "trainer/network.h"
#include "trainer/network_spec.h"

namespace fovea::trainer {
namespace {

using dnnl::memory;

constexpr double kStep = 1e-3;             // finite-difference step (inputs are O(1); float32 forward passes)
constexpr double kTolerance = 2e-2;        // relative to the largest gradient of the tensor
constexpr int kChecksPerTensor = 24;       // sampled coordinates per tensor (all when smaller)
constexpr double kMinCosine = 0.99;        // whole network: direction of numeric vs analytic gradient
constexpr double kMaxRelativeError = 0.1;  // whole network: |numeric - analytic| / |numeric|

// Runs one layer in training mode on a plain input and measures L = sum(dst * weights), a loss whose gradient with
// respect to dst is the fixed random `weights`.
class LayerHarness {
 public:
  using Factory = std::function<StatusOr<std::unique_ptr<Layer>>(const memory::desc&, const LayerContext&)>;

  // With `blocked`, the layer sees its input in oneDNN's channel-blocked layout (aBcd16b, channels zero-padded to
  // 16), as it does between layers of a network.
  LayerHarness(const memory::dims& src_dims, const Factory& factory, uint64_t seed, bool blocked = false) : rng_(seed) {
    // Tensors this small gain nothing from threads, and on a busy machine idle-waiting threads slow every call.
    omp_set_num_threads(1);
    context_.engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
    context_.stream = dnnl::stream(context_.engine);
    src_ = memory(PlainF32(src_dims), context_.engine);
    layer_src_ =
        blocked ? memory({src_dims, memory::data_type::f32, memory::format_tag::aBcd16b}, context_.engine) : src_;
    // Values spread away from 0 and from each other, so ReLU kinks and max-pool ties are not crossed by a step.
    std::uniform_real_distribution<float> magnitude(0.1f, 1.0f);
    std::bernoulli_distribution sign(0.5);
    for (float& v : Src()) v = (sign(rng_) ? 1.0f : -1.0f) * magnitude(rng_);
    auto layer = factory(layer_src_.get_desc(), context_);
    status_ = layer.ok() ? OkStatus() : layer.status();
    if (!layer.ok()) return;
    layer_ = std::move(layer).value();
    dst_plain_ = memory(PlainF32(layer_->dst_desc().dims()), context_.engine);
    loss_weights_.resize(dst_plain_.get_desc().get_size() / sizeof(float));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& w : loss_weights_) w = normal(rng_);
  }

  const Status& status() const { return status_; }
  std::span<float> Src() {
    return {static_cast<float*>(src_.get_data_handle()), src_.get_desc().get_size() / sizeof(float)};
  }

  double Loss() {
    if (layer_src_ != src_) dnnl::reorder(src_, layer_src_).execute(context_.stream, src_, layer_src_);
    const memory& dst = layer_->Forward(layer_src_);
    dnnl::reorder(dst, dst_plain_).execute(context_.stream, const_cast<memory&>(dst), dst_plain_);
    context_.stream.wait();
    const auto* y = static_cast<const float*>(dst_plain_.get_data_handle());
    double loss = 0.0;
    for (size_t i = 0; i < loss_weights_.size(); ++i) loss += static_cast<double>(y[i]) * loss_weights_[i];
    return loss;
  }

  // Forward then backward; returns the input gradient (plain) and leaves parameter gradients in their store.
  std::vector<float> AnalyticInputGradient() {
    Loss();
    memory diff_dst(dst_plain_.get_desc(), context_.engine, loss_weights_.data());
    memory diff_src = layer_->Backward(diff_dst);
    context_.stream.wait();
    if (!diff_src) return {};
    memory diff_plain(src_.get_desc(), context_.engine);
    dnnl::reorder(diff_src, diff_plain).execute(context_.stream, diff_src, diff_plain);
    context_.stream.wait();
    const auto* d = static_cast<const float*>(diff_plain.get_data_handle());
    return {d, d + diff_plain.get_desc().get_size() / sizeof(float)};
  }

  // Compares `analytic` with central differences of Loss() when perturbing `values`.
  void ExpectMatchesNumeric(std::span<float> values, const std::vector<float>& analytic, const std::string& what) {
    ASSERT_EQ(values.size(), analytic.size()) << what;
    double scale = 1e-3;
    for (const float g : analytic) scale = std::max(scale, static_cast<double>(std::fabs(g)));
    const size_t stride = std::max<size_t>(1, values.size() / kChecksPerTensor);
    for (size_t i = 0; i < values.size(); i += stride) {
      const float saved = values[i];
      values[i] = static_cast<float>(saved + kStep);
      const double plus = Loss();
      values[i] = static_cast<float>(saved - kStep);
      const double minus = Loss();
      values[i] = saved;
      const double numeric = (plus - minus) / (2 * kStep);
      EXPECT_NEAR(analytic[i], numeric, kTolerance * scale) << what << " coordinate " << i;
    }
  }

 private:
  std::mt19937 rng_;
  LayerContext context_;
  memory src_, layer_src_, dst_plain_;
  std::unique_ptr<Layer> layer_;
  std::vector<float> loss_weights_;
  Status status_;
};

// Checks the input gradient and the gradient of every trainable parameter in `store`.
void CheckLayer(const memory::dims& src_dims, ParameterStore& store, const LayerHarness::Factory& factory,
                bool blocked = false) {
  LayerHarness harness(src_dims, factory, 7, blocked);
  ASSERT_TRUE(harness.status().ok()) << harness.status().ToString();
  const std::vector<float> input_gradient = harness.AnalyticInputGradient();
  std::vector<std::vector<float>> parameter_gradients;
  for (const auto& p : store.all()) parameter_gradients.push_back(p->grad);
  harness.ExpectMatchesNumeric(harness.Src(), input_gradient, "input");
  for (size_t i = 0; i < store.all().size(); ++i) {
    Parameter& p = *store.all()[i];
    if (p.trainable) harness.ExpectMatchesNumeric(p.value, parameter_gradients[i], p.name);
  }
}

void FillRandom(Parameter& p, float scale, uint64_t seed) {
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> normal(0.0f, scale);
  for (float& v : p.value) v = normal(rng);
}

TEST(GradientCheck, ConvolutionWithStridePaddingAndBias) {
  ParameterStore store;
  FillRandom(store.Add("conv.weight", {5, 3, 3, 3}, true, true), 0.3f, 1);
  FillRandom(store.Add("conv.bias", {5}, true, false), 0.3f, 2);
  ConvLayerParams params{"conv", {}, true};
  params.window.strides = {2, 2};
  params.window.pads_begin = params.window.pads_end = {1, 1};
  CheckLayer({2, 3, 7, 7}, store, [&](const memory::desc& src, const LayerContext& c) {
    return MakeConvLayer(params, store, src, true, c);
  });
}

TEST(GradientCheck, LinearOnFeatureMap) {
  ParameterStore store;
  FillRandom(store.Add("fc.weight", {4, 3, 2, 2}, true, true), 0.3f, 3);
  FillRandom(store.Add("fc.bias", {4}, true, false), 0.3f, 4);
  CheckLayer({3, 3, 2, 2}, store, [&](const memory::desc& src, const LayerContext& c) {
    return MakeLinearLayer({"fc"}, store, src, true, c);
  });
}

TEST(GradientCheck, LinearOnVector) {
  ParameterStore store;
  FillRandom(store.Add("fc.weight", {6, 10}, true, true), 0.3f, 5);
  FillRandom(store.Add("fc.bias", {6}, true, false), 0.3f, 6);
  CheckLayer({4, 10}, store, [&](const memory::desc& src, const LayerContext& c) {
    return MakeLinearLayer({"fc"}, store, src, true, c);
  });
}

TEST(GradientCheck, BatchNormalizationTraining) {
  ParameterStore store;
  FillRandom(store.Add("bn.scale", {3}, true, false), 1.0f, 7);
  FillRandom(store.Add("bn.shift", {3}, true, false), 1.0f, 8);
  store.Add("bn.running_mean", {3}, false, false);
  store.Add("bn.running_var", {3}, false, false);
  CheckLayer({4, 3, 3, 3}, store,
             [&](const memory::desc& src, const LayerContext& c) { return MakeBatchNormLayer({"bn"}, store, src, c); });
}

TEST(GradientCheck, BatchNormalizationWithFusedRelu) {
  ParameterStore store;
  FillRandom(store.Add("bn.scale", {3}, true, false), 1.0f, 9);
  FillRandom(store.Add("bn.shift", {3}, true, false), 1.0f, 10);
  store.Add("bn.running_mean", {3}, false, false);
  store.Add("bn.running_var", {3}, false, false);
  BatchNormLayerParams params{"bn"};
  params.fuse_relu = true;
  CheckLayer({4, 3, 3, 3}, store,
             [&](const memory::desc& src, const LayerContext& c) { return MakeBatchNormLayer(params, store, src, c); });
}

TEST(GradientCheck, BatchNormalizationOnPaddedBlockedLayout) {
  ParameterStore store;
  FillRandom(store.Add("bn.scale", {5}, true, false), 1.0f, 7);
  FillRandom(store.Add("bn.shift", {5}, true, false), 1.0f, 8);
  store.Add("bn.running_mean", {5}, false, false);
  store.Add("bn.running_var", {5}, false, false);
  CheckLayer(
      {4, 5, 4, 4}, store,
      [&](const memory::desc& src, const LayerContext& c) { return MakeBatchNormLayer({"bn"}, store, src, c); }, true);
}

TEST(GradientCheck, ReluOnPaddedBlockedLayout) {
  ParameterStore store;
  CheckLayer(
      {2, 5, 4, 4}, store,
      [&](const memory::desc& src, const LayerContext& c) {
        return MakeActivationLayer({engine::ops::ActivationKind::kRelu}, src, c);
      },
      true);
}

TEST(GradientCheck, AveragePoolOnPaddedBlockedLayout) {
  ParameterStore store;
  PoolLayerParams params{PoolLayerParams::Kind::kAverage, false, {}};
  params.window.kernel = {2, 2};
  params.window.strides = {2, 2};
  CheckLayer(
      {2, 5, 6, 6}, store,
      [&](const memory::desc& src, const LayerContext& c) { return MakePoolLayer(params, src, c); }, true);
}

TEST(GradientCheck, Relu) {
  ParameterStore store;
  CheckLayer({2, 3, 4, 4}, store, [&](const memory::desc& src, const LayerContext& c) {
    return MakeActivationLayer({engine::ops::ActivationKind::kRelu}, src, c);
  });
}

TEST(GradientCheck, MaxPool) {
  ParameterStore store;
  PoolLayerParams params;
  params.window.kernel = {2, 2};
  params.window.strides = {2, 2};
  CheckLayer({2, 3, 6, 6}, store,
             [&](const memory::desc& src, const LayerContext& c) { return MakePoolLayer(params, src, c); });
}

TEST(GradientCheck, AveragePoolOverlapping) {
  ParameterStore store;
  PoolLayerParams params{PoolLayerParams::Kind::kAverage, false, {}};
  params.window.kernel = {3, 3};
  params.window.strides = {2, 2};
  CheckLayer({2, 2, 7, 7}, store,
             [&](const memory::desc& src, const LayerContext& c) { return MakePoolLayer(params, src, c); });
}

TEST(GradientCheck, GlobalAveragePool) {
  ParameterStore store;
  const PoolLayerParams params{PoolLayerParams::Kind::kAverage, true, {}};
  CheckLayer({2, 4, 5, 5}, store,
             [&](const memory::desc& src, const LayerContext& c) { return MakePoolLayer(params, src, c); });
}

// A residual block over branch layers made from `store` (filled with random values, every normalization scale
// nonzero so both branches carry gradient).
LayerHarness::Factory ResidualFactory(const std::string& spec, int64_t in_channels, ParameterStore& store) {
  auto defs = ParseNetworkSpec(spec, 2);
  EXPECT_TRUE(defs.ok()) << defs.status().ToString();
  const LayerDef block = defs->front();
  const ResidualBranches branches = ExpandResidual(block, in_channels);
  uint64_t seed = 100;
  for (const auto* branch : {&branches.main, &branches.shortcut}) {
    int64_t channels = in_channels;
    for (const LayerDef& layer : *branch) {
      if (std::holds_alternative<ConvLayerParams>(layer.params)) {
        FillRandom(
            store.Add(layer.name + ".weight", {layer.out_features, channels, layer.kernel, layer.kernel}, true, true),
            0.3f, ++seed);
        channels = layer.out_features;
      } else {
        FillRandom(store.Add(layer.name + ".scale", {channels}, true, false), 1.0f, ++seed);
        FillRandom(store.Add(layer.name + ".shift", {channels}, true, false), 1.0f, ++seed);
        store.Add(layer.name + ".running_mean", {channels}, false, false);
        store.Add(layer.name + ".running_var", {channels}, false, false);
      }
    }
  }
  return [&store, block, branches](const memory::desc& src, const LayerContext& c) -> StatusOr<std::unique_ptr<Layer>> {
    std::vector<std::unique_ptr<Layer>> chains[2];
    const std::vector<LayerDef>* defs[2] = {&branches.main, &branches.shortcut};
    for (int b = 0; b < 2; ++b) {
      memory::desc x = src;
      for (const LayerDef& layer : *defs[b]) {
        auto made = std::holds_alternative<ConvLayerParams>(layer.params)
                        ? MakeConvLayer(std::get<ConvLayerParams>(layer.params), store, x, true, c)
                        : MakeBatchNormLayer(std::get<BatchNormLayerParams>(layer.params), store, x, c);
        if (!made.ok()) return made.status();
        x = (*made)->dst_desc();
        chains[b].push_back(std::move(made).value());
      }
    }
    return MakeResidualLayer(std::get<ResidualLayerParams>(block.params), std::move(chains[0]), std::move(chains[1]),
                             src, true, c);
  };
}

TEST(GradientCheck, ResidualBlockWithIdentityShortcut) {
  ParameterStore store;
  CheckLayer({2, 3, 5, 5}, store, ResidualFactory("r3", 3, store));
}

TEST(GradientCheck, ResidualBlockWithIdentityShortcutOnPaddedBlockedLayout) {
  ParameterStore store;
  CheckLayer({2, 5, 4, 4}, store, ResidualFactory("r5", 5, store), true);
}

TEST(GradientCheck, ResidualBlockWithStridedProjection) {
  ParameterStore store;
  CheckLayer({2, 3, 6, 6}, store, ResidualFactory("r4s2", 3, store));
}

TEST(GradientCheck, ResidualBlockRefusesAShapeChangeWithoutProjection) {
  ParameterStore store;
  auto defs = ParseNetworkSpec("r4", 2);
  ASSERT_TRUE(defs.ok());
  LayerHarness harness(
      {1, 3, 4, 4},
      [&](const memory::desc& src, const LayerContext& c) {
        store.Add("conv.weight", {4, 3, 3, 3}, true, true);
        ConvLayerParams conv{"conv", {}, false};
        conv.window.pads_begin = conv.window.pads_end = {1, 1};
        std::vector<std::unique_ptr<Layer>> main;
        main.push_back(MakeConvLayer(conv, store, src, true, c).value());
        return MakeResidualLayer({"res1"}, std::move(main), {}, src, true, c);
      },
      1);
  EXPECT_EQ(harness.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(harness.status().message().find("needs a projection"), std::string::npos);
}

TEST(GradientCheck, SoftmaxCrossEntropyWithLabelSmoothing) {
  const int64_t classes = 5;
  std::vector<float> logits = {0.3f, -1.2f, 2.0f, 0.1f, 0.5f, 1.5f, 0.2f, -0.7f, 0.9f, -2.0f};
  const std::vector<int32_t> labels = {2, 0};
  std::vector<float> analytic(logits.size());
  SoftmaxCrossEntropy(logits, labels, classes, 0.1f, analytic.data());
  for (size_t i = 0; i < logits.size(); ++i) {
    const float saved = logits[i];
    logits[i] = static_cast<float>(saved + kStep);
    const double plus = SoftmaxCrossEntropy(logits, labels, classes, 0.1f, nullptr).loss;
    logits[i] = static_cast<float>(saved - kStep);
    const double minus = SoftmaxCrossEntropy(logits, labels, classes, 0.1f, nullptr).loss;
    logits[i] = saved;
    EXPECT_NEAR(analytic[i], (plus - minus) / (2 * kStep), 1e-3) << "logit " << i;
  }
}

// A whole network through CompiledNetwork and the real loss. Residual blocks start with their last normalization's
// scale at zero, which would leave their main branch without a gradient to check, so those scales are set to one.
void CheckWholeNetwork(const std::string& spec) {
  omp_set_num_threads(1);
  auto network = Network::Create(spec, {1, 8, 8}, 3, 11);
  ASSERT_TRUE(network.ok()) << network.status().ToString();
  for (const auto& p : (*network)->parameters().all()) {
    if (p->name.ends_with(".bn2.scale")) std::fill(p->value.begin(), p->value.end(), 1.0f);
  }
  auto compiled = (*network)->Compile(4, true);
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  float* input = (*compiled)->input();
  for (int i = 0; i < 4 * 64; ++i) input[i] = normal(rng);
  const std::vector<int32_t> labels = {0, 1, 2, 1};
  const auto loss = [&] {
    const float* logits = (*compiled)->Forward();
    return SoftmaxCrossEntropy({logits, 12}, labels, 3, 0.0f, nullptr).loss;
  };
  std::vector<float> diff(12);
  SoftmaxCrossEntropy({(*compiled)->Forward(), 12}, labels, 3, 0.0f, diff.data());
  (*compiled)->Backward(diff.data());
  // ReLU kinks make single coordinates of early layers noisy (a step can move one of few values across 0), so the
  // whole chain is judged per tensor: the numeric and analytic gradients must point the same way and agree in size.
  for (const auto& p : (*network)->parameters().all()) {
    if (!p->trainable) continue;
    const std::vector<float> analytic = p->grad;
    double dot = 0, analytic_norm = 0, numeric_norm = 0, error_norm = 0;
    for (size_t i = 0; i < p->value.size(); i += std::max<size_t>(1, p->value.size() / kChecksPerTensor)) {
      const float saved = p->value[i];
      p->value[i] = static_cast<float>(saved + kStep);
      const double plus = loss();
      p->value[i] = static_cast<float>(saved - kStep);
      const double minus = loss();
      p->value[i] = saved;
      const double numeric = (plus - minus) / (2 * kStep);
      dot += numeric * analytic[i];
      analytic_norm += static_cast<double>(analytic[i]) * analytic[i];
      numeric_norm += numeric * numeric;
      error_norm += (numeric - analytic[i]) * (numeric - analytic[i]);
    }
    EXPECT_GT(dot / std::sqrt(analytic_norm * numeric_norm + 1e-30), kMinCosine) << p->name;
    EXPECT_LT(std::sqrt(error_norm / (numeric_norm + 1e-30)), kMaxRelativeError) << p->name;
  }
}

// The layers chained: conv, BN, ReLU, pooling and the classifier.
TEST(GradientCheck, WholeNetworkThroughTheLoss) { CheckWholeNetwork("c4,p,c6s2,gap,fc5"); }

// Residual blocks (identity and strided projection) between plain layers.
TEST(GradientCheck, WholeResidualNetworkThroughTheLoss) { CheckWholeNetwork("c4,r4,r6s2,gap"); }

}  // namespace
}  // namespace fovea::trainer
