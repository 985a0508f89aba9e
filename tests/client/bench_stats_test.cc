#include "client/bench_stats.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace fovea::client {
namespace {

TEST(PercentileTest, NearestRankOnKnownValues) {
  std::vector<double> values;
  for (int i = 1; i <= 100; ++i) values.push_back(i);
  EXPECT_EQ(Percentile(values, 50), 50);
  EXPECT_EQ(Percentile(values, 90), 90);
  EXPECT_EQ(Percentile(values, 99), 99);
  EXPECT_EQ(Percentile(values, 100), 100);
  EXPECT_EQ(Percentile(values, 0.5), 1);
}

TEST(PercentileTest, SmallSamplesRoundUpToTheNextRank) {
  const std::vector<double> values = {10, 20, 30};
  EXPECT_EQ(Percentile(values, 50), 20);  // rank ceil(1.5) = 2
  EXPECT_EQ(Percentile(values, 90), 30);  // rank ceil(2.7) = 3
  EXPECT_EQ(Percentile({7}, 99), 7);
  EXPECT_EQ(Percentile({}, 50), 0);
}

TEST(SummarizeTest, SortsAndReportsEveryFigure) {
  const LatencySummary summary = Summarize({5, 1, 4, 2, 3});
  EXPECT_EQ(summary.count, 5);
  EXPECT_EQ(summary.min_ms, 1);
  EXPECT_EQ(summary.max_ms, 5);
  EXPECT_DOUBLE_EQ(summary.mean_ms, 3);
  EXPECT_EQ(summary.p50_ms, 3);
  EXPECT_EQ(summary.p90_ms, 5);
  EXPECT_EQ(summary.p99_ms, 5);
}

TEST(SummarizeTest, EmptyIsAllZero) {
  const LatencySummary summary = Summarize({});
  EXPECT_EQ(summary.count, 0);
  EXPECT_EQ(summary.max_ms, 0);
  EXPECT_EQ(summary.p99_ms, 0);
}

BenchReport SampleReport() {
  BenchReport report;
  report.server = "127.0.0.1:1";
  report.model = "tiny";
  report.rpc = "ModelStreamInfer";
  report.input = "encoded";
  report.concurrency = 2;
  report.batch_size = 4;
  report.seconds = 2;
  report.requests_ok = 10;
  report.errors = {{"RESOURCE_EXHAUSTED", 2}, {"DEADLINE_EXCEEDED", 1}};
  report.latency = Summarize({1, 2, 3});
  return report;
}

TEST(BenchReportTest, ThroughputCountsSuccessfulRequestsAndTheirImages) {
  const BenchReport report = SampleReport();
  EXPECT_EQ(report.requests_failed(), 3);
  EXPECT_DOUBLE_EQ(report.requests_per_second(), 5);
  EXPECT_DOUBLE_EQ(report.images_per_second(), 20);
  EXPECT_EQ(BenchReport{}.requests_per_second(), 0);  // no division by a zero duration
}

TEST(BenchReportTest, TextNamesThroughputPercentilesAndErrorsByCode) {
  const std::string text = FormatBenchText(SampleReport());
  EXPECT_NE(text.find("model tiny, ModelStreamInfer, encoded images"), std::string::npos) << text;
  EXPECT_NE(text.find("10 ok, 3 failed"), std::string::npos) << text;
  EXPECT_NE(text.find("5.00 req/s, 20.00 images/s"), std::string::npos) << text;
  EXPECT_NE(text.find("p50 2.00, p90 3.00, p99 3.00, max 3.00"), std::string::npos) << text;
  EXPECT_NE(text.find("RESOURCE_EXHAUSTED 2"), std::string::npos) << text;
  EXPECT_NE(text.find("DEADLINE_EXCEEDED 1"), std::string::npos) << text;
}

TEST(BenchReportTest, JsonHoldsEveryField) {
  const std::string json = FormatBenchJson(SampleReport());
  for (const char* expected :
       {"\"model\": \"tiny\"", "\"rpc\": \"ModelStreamInfer\"", "\"batch_size\": 4",
        "\"requests\": {\"ok\": 10, \"failed\": 3}", "\"requests_per_second\": 5", "\"images_per_second\": 20",
        "\"p99\": 3", "\"errors\": {\"DEADLINE_EXCEEDED\": 1, \"RESOURCE_EXHAUSTED\": 2}"}) {
    EXPECT_NE(json.find(expected), std::string::npos) << expected << " in " << json;
  }
}

}  // namespace
}  // namespace fovea::client
