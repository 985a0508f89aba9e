// Grad-CAM's gradients against central finite differences of the reference interpreter, through every backward
// primitive it uses (inner product, eltwise, max and average pooling, convolution backward-data).

#include <gtest/gtest.h>

#include "engine/localization/grad_cam.h"
#include "engine/localization/head.h"
#include "engine/localization/localizer.h"
#include "engine/model.h"
#include "tests/engine/localization/test_networks.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using localization::GradCam;

constexpr int64_t kSize = 12;
constexpr int64_t kClasses = 3;
constexpr float kStep = 1e-3f;
constexpr float kAbsoluteTolerance = 2e-3f;
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

// logit[class] as a function of `target` alone: the chain from target to the logits run by the reference interpreter.
float Score(const Graph& graph, const std::vector<int>& chain, const std::string& target, const Tensor& value,
            const std::string& logits, int64_t class_index) {
  Graph sub;
  sub.inputs = {{target, DataType::kFloat32, value.shape()}};
  sub.initializers = graph.initializers;
  for (int node : chain) sub.nodes.push_back(graph.nodes[static_cast<size_t>(node)]);
  sub.outputs = {{logits, DataType::kFloat32, {}}};
  auto out = RunReference(sub, std::vector<Tensor>{value});
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  if (!out.ok()) return 0.0f;
  return (*out)[0].data<float>()[class_index];
}

void ExpectGradientsMatchFiniteDifferences(const Graph& graph, bool optimize, bool first_conv_target,
                                           const std::string& first_conv) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}, {.optimize = optimize}));
  // With the passes on, ReLUs are fused into the convolutions, so the first conv's output is the fused node's.
  std::string target;
  if (first_conv_target) target = optimize ? model->graph().nodes[0].outputs[0] : first_conv;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto grad_cam, GradCam::Create(model, target));
  const Tensor image = RandomTensor({1, 1, kSize, kSize}, 11, 0.0f, 1.0f);
  const std::vector<int64_t> classes = {0, 1, 2};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto result, grad_cam->Gradients(image, classes));
  const auto& tap = grad_cam->tap();
  for (size_t c = 0; c < classes.size(); ++c) {
    const Tensor& gradient = result.gradients[c];
    ASSERT_EQ(result.feature.shape(), gradient.shape());
    double largest = 0.0;
    for (int64_t i = 0; i < result.feature.num_elements(); ++i) {
      // A ReLU zero usually ties with other zeros in its max-pooling window, where the score has a kink and a
      // central difference measures half the one-sided slope; those points have no derivative to check.
      if (result.feature.data<float>()[i] == 0.0f) continue;
      Tensor plus = result.feature.Clone(), minus = result.feature.Clone();
      plus.data<float>()[i] += kStep;
      minus.data<float>()[i] -= kStep;
      const float numeric = (Score(model->graph(), tap.chain(), tap.target(), plus, tap.head().logits, classes[c]) -
                             Score(model->graph(), tap.chain(), tap.target(), minus, tap.head().logits, classes[c])) /
                            (2 * kStep);
      const float analytic = gradient.data<float>()[i];
      largest = std::max(largest, static_cast<double>(std::fabs(analytic)));
      EXPECT_NEAR(numeric, analytic, kAbsoluteTolerance + kRelativeTolerance * std::fabs(numeric))
          << "class " << classes[c] << " element " << i;
    }
    EXPECT_GT(largest, 1e-3) << "the gradient is all zero, which proves nothing";
  }
}

class GradCamGradients : public ::testing::TestWithParam<std::tuple<bool, bool, bool>> {};

TEST_P(GradCamGradients, MatchFiniteDifferences) {
  const auto [optimize, first_conv_target, with_gap] = GetParam();
  const TinyNet net = MakeTinyNet(with_gap);
  ExpectGradientsMatchFiniteDifferences(net.graph, optimize, first_conv_target, net.first_conv);
}

INSTANTIATE_TEST_SUITE_P(Variants, GradCamGradients,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool(), ::testing::Bool()),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) ? "Fused" : "Unfused") +
                                  (std::get<1>(info.param) ? "_FirstConv" : "_LastConv") +
                                  (std::get<2>(info.param) ? "_Gap" : "_MaxPoolFlatten");
                         });

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
