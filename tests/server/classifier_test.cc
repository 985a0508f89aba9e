#include "server/classifier.h"

#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
}  // namespace fovea::server
