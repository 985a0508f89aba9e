#include "server/api/classifier.h"

#include <grpcpp/support/status_code_enum.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tests/server/channel_mean_model.h"

namespace fovea::server {
namespace {

constexpr float kTolerance = 1e-6F;

TEST(ToProbabilitiesTest, SoftmaxOfLogitsMatchesTheFormula) {
  const std::vector<float> probabilities =
      ToProbabilities(std::vector<float>{1.0F, 3.0F, 2.0F}, ScoreActivation::kSoftmax);
  const float sum = std::exp(1.0F) + std::exp(3.0F) + std::exp(2.0F);
  ASSERT_EQ(probabilities.size(), 3U);
  EXPECT_NEAR(probabilities[1], std::exp(3.0F) / sum, kTolerance);
  EXPECT_NEAR(probabilities[0], std::exp(1.0F) / sum, kTolerance);
}

TEST(ToProbabilitiesTest, LargeLogitsDoNotOverflow) {
  const std::vector<float> probabilities =
      ToProbabilities(std::vector<float>{1000.0F, 999.0F}, ScoreActivation::kSoftmax);
  EXPECT_NEAR(probabilities[0], 1.0F / (1.0F + std::exp(-1.0F)), kTolerance);
}

TEST(ToProbabilitiesTest, SigmoidScoresEachLabelOnItsOwn) {
  const std::vector<float> probabilities =
      ToProbabilities(std::vector<float>{0.0F, 2.0F, -3.0F}, ScoreActivation::kSigmoid);
  ASSERT_EQ(probabilities.size(), 3U);
  EXPECT_NEAR(probabilities[0], 0.5F, kTolerance);
  EXPECT_NEAR(probabilities[1], 1.0F / (1.0F + std::exp(-2.0F)), kTolerance);
  EXPECT_NEAR(probabilities[2], 1.0F / (1.0F + std::exp(3.0F)), kTolerance);
}

TEST(ToProbabilitiesTest, NoneKeepsTheValues) {
  EXPECT_EQ(ToProbabilities(std::vector<float>{0.25F, 0.75F}, ScoreActivation::kNone),
            (std::vector<float>{0.25F, 0.75F}));
}

TEST(TopValuesTest, HighestFirstAndTiesGoToTheLowerIndex) {
  const auto top = TopValues(std::vector<float>{0.1F, 0.4F, 0.1F, 0.4F}, 3);
  ASSERT_EQ(top.size(), 3U);
  EXPECT_EQ(top[0], (std::pair<int64_t, float>{1, 0.4F}));
  EXPECT_EQ(top[1], (std::pair<int64_t, float>{3, 0.4F}));
  EXPECT_EQ(top[2], (std::pair<int64_t, float>{0, 0.1F}));
}

TEST(TopValuesTest, RanksRawValuesIncludingNegativeOnes) {
  const auto top = TopValues(std::vector<float>{-2.0F, 5.5F, -0.5F}, 2);
  ASSERT_EQ(top.size(), 2U);
  EXPECT_EQ(top[0], (std::pair<int64_t, float>{1, 5.5F}));
  EXPECT_EQ(top[1], (std::pair<int64_t, float>{2, -0.5F}));
}

TEST(TopValuesTest, KIsClampedToTheRowSize) { EXPECT_EQ(TopValues(std::vector<float>{0.5F, 0.5F}, 7).size(), 2U); }

TEST(PrepareClassifyTest, RequestLevelProblemsFailBeforeTheEngineRuns) {
  // No session: these checks must fail before anything would run the model.
  ServedModel model;
  model.name = "net";
  model.num_classes = 4;
  ClassifyOptions options;
  options.max_images_per_request = 2;
  v1::ClassifyResponse response;

  v1::ClassifyRequest empty;
  EXPECT_EQ(PrepareClassify(model, empty, options, response).status().message(), "request has no images");

  v1::ClassifyRequest too_many;
  for (int i = 0; i < 3; ++i) too_many.add_images()->set_encoded("x");
  EXPECT_EQ(PrepareClassify(model, too_many, options, response).status().code(), StatusCode::kResourceExhausted);

  v1::ClassifyRequest bad_top_k;
  bad_top_k.add_images()->set_encoded("x");
  bad_top_k.set_top_k(5);
  EXPECT_EQ(PrepareClassify(model, bad_top_k, options, response).status().message(),
            "top_k 5 is outside [1, 4] (the model has 4 classes)");
}

TEST(PrepareClassifyTest, AModelWhoseFirstOutputIsNotScoresIsRefusedPointingAtModelInfer) {
  const auto model = testing::MapAndScoresModel("mapper", 2, 3);
  ASSERT_EQ(model->num_classes, 0);
  v1::ClassifyRequest request;
  request.add_images()->set_encoded("x");
  v1::ClassifyResponse response;
  const Status status = PrepareClassify(*model, request, ClassifyOptions(), response).status();
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(status.message(),
            "model 'mapper' version 1 is not a classifier: its first output 'map' is float32 [-1, 2, 3, 3], not one "
            "score per class ([N, K] or [N, K, 1, 1]); ask ModelInfer for its outputs, or Localize for its "
            "segmentation maps");
}

TEST(ScoreActivationTest, SoftmaxForLogitsNoneForAGraphEndingInSigmoid) {
  EXPECT_EQ(testing::ChannelMeanModel("means", 1, {"a", "b"}, 2, 0.0F, 1.0F)->score_activation,
            ScoreActivation::kSoftmax);
  // The engine fuses the Sigmoid into the pooling chain; the decision is taken on the graph as loaded.
  EXPECT_EQ(testing::MultiLabelModel("labels", 3, 2)->score_activation, ScoreActivation::kNone);
}

TEST(ScoreActivationTest, TheModelsMetadataOverridesTheDefaultAndABadValueIsRefusedAtLoad) {
  const auto sigmoid = testing::LogitsModel("tagger", 3, 2, {{"fovea.output.scores", "sigmoid"}});
  ASSERT_TRUE(sigmoid.ok()) << sigmoid.status().ToString();
  EXPECT_EQ((*sigmoid)->score_activation, ScoreActivation::kSigmoid);
  const auto none = testing::LogitsModel("scorer", 3, 2, {{"fovea.output.scores", "none"}});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ((*none)->score_activation, ScoreActivation::kNone);
  const auto bad = testing::LogitsModel("typo", 3, 2, {{"fovea.output.scores", "softmx"}});
  EXPECT_EQ(bad.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(bad.status().message(),
            "model 'typo' version 1: fovea.output.scores is 'softmx'; use softmax (exclusive classes), sigmoid "
            "(multi-label) or none (already probabilities)");
}

constexpr int64_t kSize = 2;

// A float32 [channels, kSize, kSize] tensor image whose channel c holds `values[c]` everywhere.
v1::ImageInput& AddFloatImage(v1::ClassifyRequest& request, const std::vector<float>& values) {
  std::vector<float> data;
  for (float value : values) data.insert(data.end(), kSize * kSize, value);
  v1::RawTensor* tensor = request.add_images()->mutable_tensor();
  tensor->set_dtype(v1::DATA_TYPE_FLOAT32);
  for (int64_t dim : {static_cast<int64_t>(values.size()), kSize, kSize}) tensor->add_shape(dim);
  tensor->set_data(data.data(), data.size() * sizeof(float));
  return *request.mutable_images(request.images_size() - 1);
}

class PrepareFloatTensorsTest : public ::testing::Test {
 protected:
  std::shared_ptr<const ServedModel> model_ =
      testing::ChannelMeanModel("means", 1, {"a", "b"}, kSize, /*mean=*/0.0F, /*std=*/1.0F);
  ClassifyOptions options_;
  v1::ClassifyResponse response_;
};

TEST_F(PrepareFloatTensorsTest, ALoneFloatTensorRunsFromTheRequestsBytesWithoutACopy) {
  v1::ClassifyRequest request;
  AddFloatImage(request, {0.25F, 0.75F});
  const auto prepared = PrepareClassify(*model_, request, options_, response_);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(prepared->images.raw_data(), static_cast<const void*>(request.images(0).tensor().data().data()));
  EXPECT_EQ(prepared->images.shape(), (engine::Shape{1, 2, kSize, kSize}));

  const auto outputs = RunServedModel(*model_, prepared->images);
  ASSERT_TRUE(outputs.ok()) << outputs.status().ToString();
  ASSERT_TRUE(FillPredictions(*model_, *prepared, outputs->front().floats(), response_).ok());
  ASSERT_EQ(response_.results_size(), 1);
  EXPECT_EQ(response_.results(0).predictions(0).label(), "b");
  const float expected = std::exp(0.75F) / (std::exp(0.25F) + std::exp(0.75F));
  EXPECT_NEAR(response_.results(0).predictions(0).probability(), expected, kTolerance);
}

TEST_F(PrepareFloatTensorsTest, ALoneBadFloatTensorFailsAloneWithItsOwnMessage) {
  v1::ClassifyRequest request;
  AddFloatImage(request, {0.5F, std::numeric_limits<float>::quiet_NaN()}).set_id("nan");
  const auto prepared = PrepareClassify(*model_, request, options_, response_);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_TRUE(prepared->good_images.empty());
  ASSERT_EQ(response_.results_size(), 1);
  EXPECT_EQ(response_.results(0).error().code(), static_cast<int32_t>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_EQ(response_.results(0).error().message(), "image 0 (nan): tensor element 4 is NaN");
}

TEST_F(PrepareFloatTensorsTest, SeveralTensorsAreCopiedIntoOneBatchSkippingTheBadOnes) {
  v1::ClassifyRequest request;
  AddFloatImage(request, {1.0F, 0.0F});
  AddFloatImage(request, {0.0F, 0.0F, 0.0F});  // wrong shape
  AddFloatImage(request, {0.0F, 1.0F});
  const auto prepared = PrepareClassify(*model_, request, options_, response_);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  EXPECT_EQ(prepared->good_images, (std::vector<int>{0, 2}));
  ASSERT_EQ(prepared->images.shape(), (engine::Shape{2, 2, kSize, kSize}));
  EXPECT_EQ(prepared->images.floats()[0], 1.0F);
  EXPECT_EQ(prepared->images.floats()[2 * kSize * kSize + kSize * kSize], 1.0F);
  EXPECT_EQ(response_.results(1).error().code(), static_cast<int32_t>(grpc::StatusCode::INVALID_ARGUMENT));
}

}  // namespace
}  // namespace fovea::server
