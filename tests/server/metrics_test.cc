// Request metrics: what RecordRequest adds to the /metrics text.

#include "server/ops/metrics.h"

#include <gtest/gtest.h>

namespace fovea::server {
namespace {

bool Has(const std::string& text, const std::string& line) { return text.find(line) != std::string::npos; }

TEST(MetricsTest, RepeatedCallsOfOneModelAndRpcAccumulateInOneSeries) {
  Metrics metrics;
  for (int i = 0; i < 3; ++i) metrics.RecordRequest("m", "Classify", StatusCode::kOk, 120.0);
  metrics.RecordRequest("m", "Classify", StatusCode::kInvalidArgument, 80.0);
  metrics.RecordRequest("m", "GetModel", StatusCode::kOk, 10.0);
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
  metrics.RecordRequest("", "Classify", StatusCode::kNotFound, 50.0);
  const std::string text = metrics.Render();
  EXPECT_FALSE(Has(text, "fovea_request_success_total{model=\"\"")) << text;
  EXPECT_TRUE(Has(text, "fovea_request_failure_total{model=\"\",reason=\"NOT_FOUND\",rpc=\"Classify\"} 1")) << text;
}

}  // namespace
}  // namespace fovea::server
