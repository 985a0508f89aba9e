// Grad-CAM's gradients against central finite differences of the reference interpreter, through every backward
// primitive it uses (inner product, eltwise, max and average pooling, convolution backward-data, fused residual sums)
// and through graphs that are not chains: residual sums, Inception concatenations, squeeze-excitation and SiLU.

#include <gtest/gtest.h>

#include <set>

#include "engine/localization/grad_cam.h"
#include "engine/localization/head.h"
#include "engine/localization/localizer.h"
#include "engine/model.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pad.h"
#include "engine/ops/reshape.h"
#include "engine/ops/shape_of.h"
#include "tests/engine/localization/test_networks.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using localization::GradCam;

constexpr int64_t kSize = 12;
constexpr int64_t kClasses = 3;
constexpr float kStep = 1e-3f;
constexpr float kRelativeTolerance = 1e-2f;

// conv → relu → maxpool → conv (unpadded) → relu → maxpool → flatten → fc → relu → fc.
struct TinyNet {
  Graph graph;
  std::string first_conv;  // output of the first convolution's ReLU
};

TinyNet MakeTinyNet(bool with_gap) {
  NetBuilder net(1, kSize, kSize);
  net.Conv(3, 3, 1);
  TinyNet tiny{{}, net.last()};
  net.MaxPool(2).Conv(4, 3, 0);
  if (with_gap) {
    net.GlobalAveragePool();
  } else {
    net.MaxPool(2);
  }
  tiny.graph = net.Flatten().Gemm(5).Relu().Gemm(kClasses).Build();
  return tiny;
}

// logit[class] as a function of `target` alone: the nodes from target to the logits run by the reference
// interpreter, every other value they read (another branch's) fixed at its forward value.
float Score(const Graph& graph, const localization::BackwardPath& path, const std::map<std::string, Tensor>& forward,
            const Tensor& value, int64_t class_index) {
  Graph sub;
  sub.inputs = {{path.from, DataType::kFloat32, value.shape()}};
  std::vector<Tensor> inputs = {value};
  sub.initializers = graph.initializers;
  std::set<std::string> defined = {path.from};
  for (int index : path.nodes) {
    const Node& node = graph.nodes[static_cast<size_t>(index)];
    for (const std::string& input : node.inputs) {
      if (input.empty() || graph.initializers.count(input) > 0 || !defined.insert(input).second) continue;
      sub.inputs.push_back({input, DataType::kFloat32, forward.at(input).shape()});
      inputs.push_back(forward.at(input));
    }
    for (const std::string& output : node.outputs) defined.insert(output);
    sub.nodes.push_back(node);
  }
  sub.outputs = {{path.to, DataType::kFloat32, {}}};
  auto out = RunReference(sub, inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok()) return 0.0f;
  return (*out)[0].data<float>()[class_index];
}

// How a finite-difference check perturbs.
struct Perturbation {
  float image_max = 1.0f;  // pixels uniform in [0, image_max)
  float step = kStep;
};

// Checks up to kCheckedElements elements of the target's gradient for each class against central differences. The
// reference interpreter rounds every value to float, so a central difference carries noise of order 1e-6; the
// tolerance is relative to the gradient's largest element, and that must stand well above the noise.
void ExpectGradientsMatchFiniteDifferences(const Graph& graph, bool optimize, const std::string& target,
                                           const Shape& image_shape, const Perturbation& perturbation = {}) {
  constexpr int64_t kCheckedElements = 96;
  constexpr double kScaleTolerance = 1e-2;
  constexpr double kSmallestScale = 2e-4;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}, {.optimize = optimize}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto grad_cam, GradCam::Create(model, target));
  const Tensor image = RandomTensor(image_shape, 11, 0.0f, perturbation.image_max);
  const std::vector<int64_t> classes = {0, 1, 2};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto result, grad_cam->Gradients(image, classes));
  const auto& path = grad_cam->tap().path();
  const int64_t stride = std::max<int64_t>(1, result.feature.num_elements() / kCheckedElements);
  const float step = perturbation.step;
  for (size_t c = 0; c < classes.size(); ++c) {
    const Tensor& gradient = result.gradients[c];
    ASSERT_EQ(result.feature.shape(), gradient.shape());
    double scale = 0.0;
    for (float g : gradient.floats()) scale = std::max(scale, static_cast<double>(std::fabs(g)));
    EXPECT_GT(scale, kSmallestScale) << "the gradient is (nearly) all zero, which proves nothing";
    for (int64_t i = 0; i < result.feature.num_elements(); i += stride) {
      // A ReLU zero usually ties with other zeros in its max-pooling window, where the score has a kink and a
      // central difference measures half the one-sided slope; those points have no derivative to check.
      if (std::fabs(result.feature.data<float>()[i]) <= 2 * step) continue;
      Tensor plus = result.feature.Clone(), minus = result.feature.Clone();
      plus.data<float>()[i] += step;
      minus.data<float>()[i] -= step;
      const double numeric = (static_cast<double>(Score(model->graph(), path, result.run.values, plus, classes[c])) -
                              Score(model->graph(), path, result.run.values, minus, classes[c])) /
                             (2.0 * step);
      const double analytic = gradient.data<float>()[i];
      EXPECT_NEAR(numeric, analytic, kScaleTolerance * scale + kRelativeTolerance * std::fabs(numeric))
          << "class " << classes[c] << " element " << i;
    }
  }
}

class GradCamGradients : public ::testing::TestWithParam<std::tuple<bool, bool, bool>> {};

TEST_P(GradCamGradients, MatchFiniteDifferences) {
  const auto [optimize, first_conv_target, with_gap] = GetParam();
  const TinyNet net = MakeTinyNet(with_gap);
  // With the passes on, ReLUs are fused into the convolutions, and the fused node keeps the ReLU's output name.
  ExpectGradientsMatchFiniteDifferences(net.graph, optimize, first_conv_target ? net.first_conv : "",
                                        {1, 1, kSize, kSize});
}

INSTANTIATE_TEST_SUITE_P(Variants, GradCamGradients,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Fused" : "Unfused") +
                                  (std::get<1>(info.param) ? "_FirstConv" : "_LastConv") +
                                  (std::get<2>(info.param) ? "_Gap" : "_MaxPoolFlatten");
                         });

// Networks whose nodes after the target form a graph, not a chain: a value feeds several nodes and its gradients add.
enum class Branchy { kResidual, kInception, kSqueezeExcite };

constexpr int64_t kBranchyChannels = 3;
// Small, so that the global average pooling does not shrink the gradients to the finite differences' noise.
constexpr int64_t kBranchySize = 6;
// Pixels in [0, 4]: activations large enough for SiLU, HardSwish and the ReLUs to pass gradients on nearly whole.
constexpr float kBranchyImageMax = 4.0f;
// A larger step than kStep keeps the interpreter's rounding noise small next to the difference, except where a max
// pooling's window holds values closer than it (the Inception block's pooling branch, on the path from the first
// convolution), whose order it would swap.
float BranchyStep(Branchy kind, bool first_conv_target) {
  return kind == Branchy::kInception && first_conv_target ? kStep : 1e-2f;
}

TinyNet MakeBranchyNet(Branchy kind) {
  NetBuilder net(kBranchyChannels, kBranchySize, kBranchySize);
  net.Conv(4, 3, 1);
  TinyNet tiny{{}, net.last()};
  switch (kind) {
    case Branchy::kResidual:
      net.Residual().Residual();
      break;
    case Branchy::kInception:
      net.Inception(3, 2).Inception(2, 3);
      break;
    case Branchy::kSqueezeExcite:
      // MobileNetV3 / EfficientNet: SiLU, squeeze-excitation, projection, HardSwish; the last conv ends in SiLU, so
      // even the default target's path is a graph (x feeds both the Sigmoid and the Mul).
      net.Silu().SqueezeExcite(2).HardSwish().Conv(6, 1, 0, /*relu=*/false).Silu();
      break;
  }
  tiny.graph = net.GlobalAveragePool().Flatten().Gemm(5).HardSwish().Gemm(kClasses).Build();
  return tiny;
}

std::string BranchyName(Branchy kind) {
  switch (kind) {
    case Branchy::kResidual:
      return "Residual";
    case Branchy::kInception:
      return "Inception";
    case Branchy::kSqueezeExcite:
      return "SqueezeExcite";
  }
  return "";
}

class BranchyGradients : public ::testing::TestWithParam<std::tuple<Branchy, bool, bool>> {};

TEST_P(BranchyGradients, MatchFiniteDifferences) {
  const auto [kind, optimize, first_conv_target] = GetParam();
  const TinyNet net = MakeBranchyNet(kind);
  ExpectGradientsMatchFiniteDifferences(net.graph, optimize, first_conv_target ? net.first_conv : "",
                                        {1, kBranchyChannels, kBranchySize, kBranchySize},
                                        {.image_max = kBranchyImageMax, .step = BranchyStep(kind, first_conv_target)});
}

INSTANTIATE_TEST_SUITE_P(Blocks, BranchyGradients,
                         ::testing::Combine(::testing::Values(Branchy::kResidual, Branchy::kInception,
                                                              Branchy::kSqueezeExcite),
                                            ::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return BranchyName(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_Fused" : "_Unfused") +
                                  (std::get<2>(info.param) ? "_FirstConv" : "_LastConv");
                         });

TEST(GradCam, DefaultTargetIsTheLastConvolutionWithSpatialExtent) {
  // The squeeze-excitation's 1×1 convolutions run on the pooled [1, C, 1, 1] vector; they are not a feature map.
  NetBuilder net(kBranchyChannels, kSize, kSize);
  net.Conv(4, 3, 1, /*relu=*/false);
  const std::string last_map = net.last();
  const Graph graph = net.SqueezeExcite(2).GlobalAveragePool().Flatten().Gemm(kClasses).Build();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}, {.optimize = false}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto grad_cam, GradCam::Create(model));
  EXPECT_EQ(last_map, grad_cam->tap().target());
}

TEST(GradCam, TheLocalizerExplainsANamedLayerAndRefusesAnUnknownOne) {
  const TinyNet net = MakeBranchyNet(Branchy::kResidual);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(net.graph, {}));
  const auto missing = GradCam::Create(model, "no_such_layer");
  EXPECT_EQ(StatusCode::kInvalidArgument, missing.status().code());
  EXPECT_NE(std::string::npos, missing.status().message().find("'no_such_layer'")) << missing.status().ToString();
  EXPECT_NE(std::string::npos, missing.status().message().find("last convolution outputs are"))
      << missing.status().ToString();
  const auto localizer = localization::Localizer::Create(model);
  const Tensor image = RandomTensor({1, kBranchyChannels, kBranchySize, kBranchySize}, 2, 0.0f, 1.0f);
  const std::vector<int64_t> classes = {0};
  EXPECT_EQ(StatusCode::kInvalidArgument, localizer->GradCam(image, classes, 1, "no_such_layer").status().code());
  // The first convolution's map, through both residual blocks, differs from the default (the last block's).
  FOVEA_ASSERT_OK_AND_ASSIGN(auto first, localizer->GradCam(image, classes, 1, net.first_conv));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto last, localizer->GradCam(image, classes));
  ASSERT_EQ(Shape({kBranchySize, kBranchySize}), first.maps[0].shape());
  EXPECT_FALSE(TensorsNear(last.maps[0], first.maps[0]));
}

TEST(GradCam, AShapeComputedFromTheTargetCarriesNoGradient) {
  // ShuffleNet's channel shuffle reshapes to a shape read off the feature map (Shape → ... → Reshape): that integer
  // path depends on the target but adds nothing to its gradient.
  NetBuilder net(1, kSize, kSize);
  net.Conv(2, 3, 1);
  const std::string target = net.last();
  Graph graph = net.Build();
  AddNode(graph, "shape", ops::ShapeOf::Create({}), {target}, {"shape"});
  AddNode(graph, "reshape", ops::Reshape::Create({}), {target, "shape"}, {"reshaped"});
  graph.initializers["fc.w"] = RandomTensor({kClasses, 2 * kSize * kSize}, 5);
  AddNode(graph, "flatten", ops::Flatten::Create({.axis = 1}), {"reshaped"}, {"flat"});
  AddNode(graph, "fc", ops::Gemm::Create({.trans_b = true}), {"flat", "fc.w"}, {"logits"});
  graph.outputs = {{"logits", DataType::kFloat32, {}}};
  ExpectGradientsMatchFiniteDifferences(graph, /*optimize=*/false, target, {1, 1, kSize, kSize});
}

TEST(GradCam, AnOpWithoutBackwardIsUnimplementedNamingTheNode) {
  NetBuilder net(1, kSize, kSize);
  net.Conv(2, 3, 1);
  const std::string target = net.last();
  Graph graph = net.Build();
  AddNode(graph, "the_pad", ops::Pad::Create({.pads = {0, 0, 1, 1, 0, 0, 1, 1}}), {target}, {"padded"});
  graph.initializers["fc.w"] = RandomTensor({kClasses, 2 * (kSize + 2) * (kSize + 2)}, 5);
  AddNode(graph, "flatten", ops::Flatten::Create({.axis = 1}), {"padded"}, {"flat"});
  AddNode(graph, "fc", ops::Gemm::Create({.trans_b = true}), {"flat", "fc.w"}, {"logits"});
  graph.outputs = {{"logits", DataType::kFloat32, {}}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}, {.optimize = false}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto grad_cam, GradCam::Create(model, target));
  const Tensor image = RandomTensor({1, 1, kSize, kSize}, 3, 0.0f, 1.0f);
  const auto result = grad_cam->Gradients(image, std::vector<int64_t>{0});
  EXPECT_EQ(StatusCode::kUnimplemented, result.status().code());
  EXPECT_NE(std::string::npos, result.status().message().find("Pad node 'the_pad'")) << result.status().ToString();
}

TEST(GradCam, MapIsGradientWeightedFeatureSum) {
  const Tensor feature = Floats({1, 2, 1, 2}, {1, 2, 3, 4});
  const Tensor gradient = Floats({1, 2, 1, 2}, {1, 3, -1, -1});  // channel weights 2 and -1
  FOVEA_ASSERT_OK_AND_ASSIGN(auto map, localization::GradCamMap(feature, gradient));
  EXPECT_TRUE(TensorsNear(Floats({1, 2}, {2 * 1 - 3, 2 * 2 - 4}), map));
}

TEST(GradCam, LocalizerNormalizesAndChecksClasses) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(MakeTinyNet(false).graph, {}));
  const auto localizer = localization::Localizer::Create(model);
  const Tensor image = RandomTensor({1, 1, kSize, kSize}, 2, 0.0f, 1.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto maps, localizer->GradCam(image, std::vector<int64_t>{0, 2}));
  ASSERT_EQ(2u, maps.maps.size());
  for (const Tensor& map : maps.maps) {
    for (float v : map.floats()) {
      EXPECT_GE(v, 0.0f);
      EXPECT_LE(v, 1.0f);
    }
  }
  EXPECT_EQ(StatusCode::kInvalidArgument, localizer->GradCam(image, std::vector<int64_t>{-1}).status().code());
}

}  // namespace
}  // namespace fovea::engine::testing
