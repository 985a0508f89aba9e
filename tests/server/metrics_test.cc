// Request metrics: what RecordRequest adds to the /metrics text.

#include "server/ops/metrics.h"

#include <gtest/gtest.h>

namespace fovea::server {
namespace {

bool Has(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }

TEST(MetricsTest, RepeatedCallsOfOneModelAndRpcAccumulateInOneSeries) {
  Metrics metrics;
  for (int i = 0; i < 3; ++i) metrics.RecordRequest("m", 1, "Classify", StatusCode::kOk, 120.0);
  metrics.RecordRequest("m", 1, "Classify", StatusCode::kInvalidArgument, 80.0);
  metrics.RecordRequest("m", 1, "GetModel", StatusCode::kOk, 10.0);
  const std::string text = metrics.Render();
  EXPECT_TRUE(Has(text, "fovea_request_success_total{model=\"m\",rpc=\"Classify\"} 3")) << text;
  EXPECT_TRUE(Has(text, "fovea_request_success_total{model=\"m\",rpc=\"GetModel\"} 1")) << text;
  EXPECT_TRUE(Has(text, "fovea_request_failure_total{model=\"m\",reason=\"INVALID_ARGUMENT\",rpc=\"Classify\"} 1"))
      << text;
  EXPECT_TRUE(Has(text, "fovea_request_duration_us_count{model=\"m\",rpc=\"Classify\"} 4")) << text;
  EXPECT_TRUE(Has(text, "fovea_request_duration_us_sum{model=\"m\",rpc=\"Classify\"} 440")) << text;
  EXPECT_TRUE(Has(text, "fovea_request_duration_us_bucket{model=\"m\",rpc=\"Classify\",le=\"100\"} 1")) << text;
}

TEST(MetricsTest, ACallThatOnlyEverFailedHasNoSuccessSeries) {
  Metrics metrics;
  metrics.RecordRequest("", 0, "Classify", StatusCode::kNotFound, 50.0);
  const std::string text = metrics.Render();
  EXPECT_FALSE(Has(text, "fovea_request_success_total{model=\"\"")) << text;
  EXPECT_TRUE(Has(text, "fovea_request_failure_total{model=\"\",reason=\"NOT_FOUND\",rpc=\"Classify\"} 1")) << text;
}

TEST(MetricsTest, StatisticsAreKeptPerVersionFromTheSameObservationsAsTheSeries) {
  Metrics metrics;
  for (int i = 0; i < 3; ++i) metrics.RecordRequest("m", 2, "ModelInfer", StatusCode::kOk, 120.0);
  metrics.RecordRequest("m", 2, "rest.ModelInfer", StatusCode::kInvalidArgument, 80.0);
  metrics.RecordRequest("m", 2, "ModelMetadata", StatusCode::kOk, 10.0);  // not an inference call
  metrics.RecordRequest("m", 1, "Classify", StatusCode::kOk, 50.0);
  ModelMetrics& version2 = metrics.ForModel("m", 2);
  version2.ObserveQueue(30.0);
  version2.ObserveExecution(4, 200.0);
  version2.ObserveExecution(2, 100.0);

  const VersionStatistics two = version2.Statistics();
  EXPECT_EQ(two.success.count, 3U);
  EXPECT_EQ(two.success.ns, 360'000U);
  EXPECT_EQ(two.fail.count, 1U);
  EXPECT_EQ(two.fail.ns, 80'000U);
  EXPECT_EQ(two.queue.count, 1U);
  EXPECT_EQ(two.queue.ns, 30'000U);
  EXPECT_EQ(two.compute_infer.count, 2U);
  EXPECT_EQ(two.compute_infer.ns, 300'000U);
  EXPECT_EQ(two.inference_count, 6U);
  EXPECT_EQ(two.execution_count, 2U);
  EXPECT_GT(two.last_inference_ms, 0U);
  EXPECT_EQ(metrics.ForModel("m", 1).Statistics().success.count, 1U);
  // The Prometheus series are the model's, over both versions.
  const std::string text = metrics.Render();
  EXPECT_TRUE(Has(text, "fovea_inference_count_total{model=\"m\"} 6")) << text;
}

}  // namespace
}  // namespace fovea::server
