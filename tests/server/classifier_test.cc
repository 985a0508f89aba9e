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

TEST(TopClassesTest, SoftmaxOfLogitsMatchesTheFormula) {
  const std::vector<float> logits = {1.0F, 3.0F, 2.0F};
  const auto top = TopClasses(logits, 3, /*already_probabilities=*/false);
  const float sum = std::exp(1.0F) + std::exp(3.0F) + std::exp(2.0F);
  ASSERT_EQ(top.size(), 3U);
  EXPECT_EQ(top[0].first, 1);
  EXPECT_EQ(top[1].first, 2);
  EXPECT_EQ(top[2].first, 0);
  EXPECT_NEAR(top[0].second, std::exp(3.0F) / sum, kTolerance);
  EXPECT_NEAR(top[2].second, std::exp(1.0F) / sum, kTolerance);
}

TEST(TopClassesTest, LargeLogitsDoNotOverflow) {
  const auto top = TopClasses(std::vector<float>{1000.0F, 999.0F}, 1, false);
  ASSERT_EQ(top.size(), 1U);
  EXPECT_NEAR(top[0].second, 1.0F / (1.0F + std::exp(-1.0F)), kTolerance);
}

TEST(TopClassesTest, ProbabilitiesPassThroughAndTiesGoToTheLowerIndex) {
  const auto top = TopClasses(std::vector<float>{0.1F, 0.4F, 0.1F, 0.4F}, 3, /*already_probabilities=*/true);
  ASSERT_EQ(top.size(), 3U);
  EXPECT_EQ(top[0], (std::pair<int64_t, float>{1, 0.4F}));
  EXPECT_EQ(top[1], (std::pair<int64_t, float>{3, 0.4F}));
  EXPECT_EQ(top[2], (std::pair<int64_t, float>{0, 0.1F}));
}

TEST(TopClassesTest, KIsClampedToTheClassCount) {
  EXPECT_EQ(TopClasses(std::vector<float>{0.5F, 0.5F}, 7, true).size(), 2U);
}

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

  const auto scores = RunClassifier(*model_, prepared->images);
  ASSERT_TRUE(scores.ok()) << scores.status().ToString();
  ASSERT_TRUE(FillPredictions(*model_, *prepared, scores->floats(), response_).ok());
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
