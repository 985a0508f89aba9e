// CAM against a hand computation from the feature map (reference interpreter) and the classifier weights, and for
// every GAP head: linear layers composed, a 1×1 convolution classifier, no classifier, any value before the pooling.

#include <algorithm>

#include <gtest/gtest.h>

#include "engine/localization/localizer.h"
#include "engine/model.h"
#include "engine/ops/gemm.h"
#include "engine/ops/reduce.h"
#include "tests/engine/localization/test_networks.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using localization::Localizer;

constexpr int64_t kSize = 16;
constexpr int64_t kClasses = 4;
constexpr int64_t kFeatureChannels = 6;

NetBuilder GapNet() {
  NetBuilder net(1, kSize, kSize);
  net.Conv(4, 3, 1).MaxPool(2).Conv(kFeatureChannels, 3, 1);
  return net;
}

TEST(Cam, EqualsFeatureMapWeightedByClassifierRow) {
  NetBuilder net = GapNet();
  const std::string feature = net.last();
  net.GlobalAveragePool().Flatten().Gemm(kClasses);
  const std::string classifier = net.last();
  const Graph graph = net.Softmax().Build();
  const Tensor image = RandomTensor({1, 1, kSize, kSize}, 3, 0.0f, 1.0f);

  // The feature map from the reference interpreter, on a copy of the graph that outputs it.
  Graph trunk = graph;
  trunk.outputs = {{feature, DataType::kFloat32, {}}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto features, RunReference(trunk, std::vector<Tensor>{image}));
  const Tensor& f = features[0];
  ASSERT_EQ((Shape{1, kFeatureChannels, kSize / 2, kSize / 2}), f.shape());
  const Tensor& weights = graph.initializers.at(classifier + ".w");

  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto tap, localization::FeatureTap::Create(model, ""));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto run, tap->Run(image));
  EXPECT_TRUE(TensorsNear(f, run.values.at(tap->target())));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto linear, localization::GapLinearHead(model->graph(), tap->head()));
  EXPECT_EQ(tap->target(), linear.feature);
  const auto localizer = Localizer::Create(model);
  ASSERT_TRUE(localizer->cam_status().ok()) << localizer->cam_status().ToString();
  const int64_t cells = f.dim(2) * f.dim(3);
  int positive_classes = 0;
  for (int64_t c = 0; c < kClasses; ++c) {
    std::vector<float> expected(static_cast<size_t>(cells), 0.0f);
    for (int64_t i = 0; i < cells; ++i) {
      double sum = 0.0;
      for (int64_t k = 0; k < kFeatureChannels; ++k) {
        sum += static_cast<double>(weights.data<float>()[c * kFeatureChannels + k]) * f.data<float>()[k * cells + i];
      }
      expected[static_cast<size_t>(i)] = static_cast<float>(sum);
    }
    FOVEA_ASSERT_OK_AND_ASSIGN(auto raw, localization::ClassActivationMap(run.values.at(tap->target()), linear, c));
    EXPECT_TRUE(TensorsNear(Floats({f.dim(2), f.dim(3)}, expected), raw)) << "class " << c;

    // The served map: negatives cut, scaled so the strongest cell is 1 (all zero without positive evidence).
    const float max = std::max(0.0f, *std::max_element(expected.begin(), expected.end()));
    positive_classes += max > 0.0f ? 1 : 0;
    for (float& v : expected) v = max > 0.0f ? std::max(0.0f, v) / max : 0.0f;
    FOVEA_ASSERT_OK_AND_ASSIGN(auto maps, localizer->Cam(image, std::vector<int64_t>{c}));
    EXPECT_TRUE(TensorsNear(Floats({f.dim(2), f.dim(3)}, expected), maps.maps[0])) << "class " << c;
  }
  EXPECT_GT(positive_classes, 0);
}

// For a GAP head the class logit is the mean of its CAM plus the composed bias: CAM splits the score over the cells.
void ExpectCamAveragesToTheLogits(const Graph& graph, const std::string& pooled) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  const auto localizer = Localizer::Create(model);
  ASSERT_TRUE(localizer->cam_status().ok()) << localizer->cam_status().ToString();
  FOVEA_ASSERT_OK_AND_ASSIGN(const auto head, localization::AnalyzeHead(model->graph()));
  FOVEA_ASSERT_OK_AND_ASSIGN(const auto linear, localization::GapLinearHead(model->graph(), head));
  EXPECT_EQ(pooled, linear.feature);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto tap, localization::FeatureTap::Create(model, linear.feature));
  const Tensor image = RandomTensor({1, 1, kSize, kSize}, 9, 0.0f, 1.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto run, tap->Run(image));
  ASSERT_EQ(kClasses, run.logits.num_elements());
  for (int64_t c = 0; c < kClasses; ++c) {
    FOVEA_ASSERT_OK_AND_ASSIGN(auto map, localization::ClassActivationMap(run.values.at(linear.feature), linear, c));
    double mean = 0.0;
    for (float v : map.floats()) mean += v;
    mean /= static_cast<double>(map.num_elements());
    const double bias = linear.bias.has_data() ? linear.bias.data<float>()[c] : 0.0;
    EXPECT_NEAR(run.logits.data<float>()[c], mean + bias, 1e-4) << "class " << c;
  }
  FOVEA_ASSERT_OK_AND_ASSIGN(auto maps, localizer->Cam(image, std::vector<int64_t>{0}));
  EXPECT_EQ(run.values.at(linear.feature).dim(2), maps.maps[0].dim(0));
}

TEST(Cam, ComposesTheLinearLayersAfterThePooling) {
  NetBuilder net = GapNet();
  const std::string pooled = net.last();
  ExpectCamAveragesToTheLogits(net.GlobalAveragePool().Flatten().Gemm(5).Gemm(kClasses).Softmax().Build(), pooled);
}

TEST(Cam, TakesAOneByOneConvolutionClassifierBeforeTheFlatten) {
  NetBuilder net = GapNet();
  const std::string pooled = net.last();
  ExpectCamAveragesToTheLogits(net.GlobalAveragePool().Conv(kClasses, 1, 0, /*relu=*/false).Flatten().Build(), pooled);
}

TEST(Cam, TakesAPoolingOfClassMapsWithNoClassifierAfterIt) {
  // SqueezeNet: a 1×1 convolution to the classes and a ReLU, then the pooling is the score.
  NetBuilder net = GapNet();
  net.Conv(kClasses, 1, 0);
  const std::string pooled = net.last();
  ExpectCamAveragesToTheLogits(net.GlobalAveragePool().Flatten().Build(), pooled);
}

TEST(Cam, PoolsWhateverFeedsThePoolingNotOnlyAConvolution) {
  // EfficientNet's last block ends in SiLU, DenseNet's in BatchNorm and ReLU after a Concat: CAM maps that value.
  NetBuilder net = GapNet();
  net.Silu().SqueezeExcite(2);
  const std::string pooled = net.last();
  ExpectCamAveragesToTheLogits(net.GlobalAveragePool().Flatten().Gemm(kClasses).Build(), pooled);
}

TEST(Cam, TakesAMeanOverTheSpatialAxesAsThePooling) {
  // ShuffleNet and MNASNet pool with x.mean([2, 3]): ReduceMean without keepdims, then the classifier.
  NetBuilder net = GapNet();
  const std::string pooled = net.last();
  Graph graph = net.Build();
  AddNode(graph, "mean", ops::Reduce::Create({.kind = ops::ReduceKind::kMean, .axes = {2, -1}, .keepdims = false}),
          {pooled}, {"mean"});
  graph.initializers["fc.w"] = RandomTensor({kClasses, kFeatureChannels}, 21);
  graph.initializers["fc.b"] = RandomTensor({kClasses}, 22);
  AddNode(graph, "fc", ops::Gemm::Create({.trans_b = true}), {"mean", "fc.w", "fc.b"}, {"logits"});
  graph.outputs = {{"logits", DataType::kFloat32, {}}};
  ExpectCamAveragesToTheLogits(graph, pooled);
}

TEST(Cam, RefusesANonlinearLayerAfterThePoolingByName) {
  FOVEA_ASSERT_OK_AND_ASSIGN(
      auto model, Model::Create(GapNet().GlobalAveragePool().Flatten().Gemm(5).HardSwish().Gemm(kClasses).Build(), {}));
  const auto localizer = Localizer::Create(model);
  EXPECT_EQ(StatusCode::kFailedPrecondition, localizer->cam_status().code());
  EXPECT_NE(std::string::npos, localizer->cam_status().message().find("HardSwish node"))
      << localizer->cam_status().ToString();
  EXPECT_TRUE(localizer->grad_cam_status().ok());
}

TEST(Cam, DefaultsToTheTopClassAndReportsProbabilities) {
  const Graph graph = GapNet().GlobalAveragePool().Flatten().Gemm(kClasses).Softmax().Build();
  const Tensor image = RandomTensor({1, 1, kSize, kSize}, 5, 0.0f, 1.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, std::vector<Tensor>{image}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto maps, Localizer::Create(model)->Cam(image, {}));
  const auto probabilities = expected[0].floats();
  const int64_t top = std::max_element(probabilities.begin(), probabilities.end()) - probabilities.begin();
  ASSERT_EQ(1u, maps.classes.size());
  EXPECT_EQ(top, maps.classes[0]);
  EXPECT_TRUE(TensorsNear(expected[0].Reshaped({kClasses}).value(), maps.probabilities));
}

TEST(Cam, RejectsModelsWithoutAGapHeadAndUnknownClasses) {
  const Graph flatten_head = GapNet().Flatten().Gemm(kClasses).Build();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(flatten_head, {}));
  const auto localizer = Localizer::Create(model);
  EXPECT_EQ(StatusCode::kFailedPrecondition, localizer->cam_status().code());
  EXPECT_NE(std::string::npos, localizer->cam_status().message().find("GlobalAveragePool"));
  EXPECT_TRUE(localizer->grad_cam_status().ok());

  FOVEA_ASSERT_OK_AND_ASSIGN(auto gap_model,
                             Model::Create(GapNet().GlobalAveragePool().Flatten().Gemm(kClasses).Build(), {}));
  const Tensor image = RandomTensor({1, 1, kSize, kSize}, 5);
  const auto result = Localizer::Create(gap_model)->Cam(image, std::vector<int64_t>{kClasses});
  EXPECT_EQ(StatusCode::kInvalidArgument, result.status().code());
}

}  // namespace
}  // namespace fovea::engine::testing
