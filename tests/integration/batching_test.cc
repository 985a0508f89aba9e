// The dynamic batcher, Prometheus metrics, per-model config.txt and SIGTERM draining, through the real fovea-server.

#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <regex>
#include <thread>

#include "client/fovea_client.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

using std::chrono::milliseconds;

constexpr auto kMetricsWait = std::chrono::seconds(20);

// One float32 tensor image of the tiny model's input shape.
v1::ImageInput TinyTensor(float value) {
  v1::ImageInput image;
  v1::RawTensor* tensor = image.mutable_tensor();
  tensor->set_dtype(v1::DATA_TYPE_FLOAT32);
  for (int64_t dim : {1, kTinySize, kTinySize}) tensor->add_shape(dim);
  const std::vector<float> values(static_cast<size_t>(kTinySize * kTinySize), value);
  tensor->set_data(values.data(), values.size() * sizeof(float));
  return image;
}

v1::ClassifyRequest TinyTensorRequest(int images) {
  v1::ClassifyRequest request = TinyRequest();
  request.set_top_k(1);
  for (int i = 0; i < images; ++i) *request.add_images() = TinyTensor(static_cast<float>(i % 7) * 0.1F);
  return request;
}

// The value of the sample `series` (name with labels, exactly as the server writes it), or -1 when absent.
double MetricValue(const std::string& text, const std::string& series) {
  const std::regex line("(^|\n)" + std::regex_replace(series, std::regex(R"([{}()\[\].+*?^$|\\])"), R"(\$&)") +
                        " ([^\n]+)");
  std::smatch match;
  if (!std::regex_search(text, match, line)) return -1;
  return std::stod(match[2].str());
}

// Polls /metrics until `series` reaches at least `at_least`; returns its last value.
double WaitForMetric(const ServerProcess& server, const std::string& series, double at_least) {
  const auto deadline = std::chrono::steady_clock::now() + kMetricsWait;
  double value = -1;
  while (std::chrono::steady_clock::now() < deadline) {
    value = MetricValue(server.FetchMetrics(), series);
    if (value >= at_least) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return value;
}

// Sends `request` from `threads` threads at once (`calls` each) and returns how often each status code came back.
std::map<grpc::StatusCode, int> ClassifyConcurrently(const client::FoveaClient& client,
                                                     const v1::ClassifyRequest& request, int threads, int calls,
                                                     std::vector<std::string>* messages = nullptr) {
  std::mutex mutex;
  std::map<grpc::StatusCode, int> codes;
  std::vector<std::thread> senders;
  for (int t = 0; t < threads; ++t) {
    senders.emplace_back([&] {
      for (int i = 0; i < calls; ++i) {
        v1::ClassifyResponse response;
        const grpc::Status status = client.Classify(request, &response);
        std::lock_guard lock(mutex);
        ++codes[status.error_code()];
        if (messages != nullptr && !status.ok()) messages->push_back(status.error_message());
      }
    });
  }
  for (std::thread& sender : senders) sender.join();
  return codes;
}

// A model repository holding only the tiny model, with an optional config.txt.
std::string TinyRepository(const std::string& config) {
  const std::string root = MakeTempDir();
  const std::filesystem::path folder = std::filesystem::path(root) / "tiny";
  std::filesystem::create_directories(folder / "1");
  std::filesystem::copy_file(TestDataDir() + "/models/tiny/1/model.onnx", folder / "1" / "model.onnx");
  if (!config.empty()) std::ofstream(folder / "config.txt") << config;
  return root;
}

TEST(BatchingTest, ConcurrentCallsShareEngineRuns) {
  // A long queue delay gathers the concurrent calls; a full batch (16) would run at once.
  auto server = ServerProcess::Start({"--max-queue-delay-us", "300000", "--max-batch-size", "16"});
  ASSERT_NE(server, nullptr);
  const auto client = client::FoveaClient::Connect(server->address());
  const auto codes = ClassifyConcurrently(*client, TinyTensorRequest(1), 16, 2);
  EXPECT_EQ(codes.at(grpc::StatusCode::OK), 32);
  const std::string metrics = server->FetchMetrics();
  const double inferences = MetricValue(metrics, "fovea_inference_count_total{model=\"tiny\"}");
  const double executions = MetricValue(metrics, "fovea_execution_count_total{model=\"tiny\"}");
  EXPECT_EQ(inferences, 32);
  EXPECT_GT(executions, 0);
  EXPECT_LT(executions, 16) << "32 concurrent images should have run in far fewer than 16 batches\n" << metrics;
  EXPECT_LT(MetricValue(metrics, "fovea_batch_size_bucket{model=\"tiny\",le=\"1\"}"), executions) << metrics;
}

TEST(BatchingTest, AFullQueueAnswersResourceExhaustedNamingModelAndLimit) {
  auto server = ServerProcess::Start({"--max-queue-size", "1", "--max-batch-size", "1", "--threads", "4"});
  ASSERT_NE(server, nullptr);
  const auto client = client::FoveaClient::Connect(server->address());
  std::vector<std::string> messages;
  // 64 images per call run as one large batch while the other callers pile up behind a one-request queue.
  const auto codes = ClassifyConcurrently(*client, TinyTensorRequest(64), 16, 4, &messages);
  ASSERT_GT(codes.count(grpc::StatusCode::RESOURCE_EXHAUSTED), 0U) << "no call was refused";
  EXPECT_GT(codes.count(grpc::StatusCode::OK), 0U);
  for (const auto& [code, count] : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK || code == grpc::StatusCode::RESOURCE_EXHAUSTED) << code;
  }
  for (const std::string& message : messages) {
    EXPECT_NE(message.find("model 'tiny:2'"), std::string::npos) << message;
    EXPECT_NE(message.find("max_queue_size 1"), std::string::npos) << message;
  }
  EXPECT_EQ(MetricValue(server->FetchMetrics(),
                        "fovea_request_failure_total{model=\"tiny\",reason=\"RESOURCE_EXHAUSTED\",rpc=\"Classify\"}"),
            codes.at(grpc::StatusCode::RESOURCE_EXHAUSTED));
}

TEST(BatchingTest, WorkWhoseDeadlinePassedIsNeverComputed) {
  // The only request waits 2 s for company, far past its 200 ms deadline: the batcher must drop it unrun.
  auto server = ServerProcess::Start({"--max-queue-delay-us", "2000000"});
  ASSERT_NE(server, nullptr);
  client::ClientOptions options;
  options.timeout = milliseconds(200);
  const auto client = client::FoveaClient::Connect(server->address(), options);
  v1::ClassifyResponse response;
  EXPECT_EQ(client->Classify(TinyTensorRequest(1), &response).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(
      WaitForMetric(*server,
                    "fovea_request_failure_total{model=\"tiny\",reason=\"DEADLINE_EXCEEDED\",rpc=\"Classify\"}", 1),
      1);
  const std::string metrics = server->FetchMetrics();
  EXPECT_EQ(MetricValue(metrics, "fovea_execution_count_total{model=\"tiny\"}"), 0) << metrics;
  EXPECT_EQ(MetricValue(metrics, "fovea_inference_count_total{model=\"tiny\"}"), 0) << metrics;
  EXPECT_NE(server->Log().find("not computed"), std::string::npos) << server->Log();
}

TEST(BatchingTest, MetricsEndpointServesEveryDocumentedFamily) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const auto client = client::FoveaClient::Connect(server->address());
  v1::ClassifyResponse response;
  ASSERT_TRUE(client->Classify(TinyTensorRequest(3), &response).ok());
  v1::ClassifyRequest unknown = TinyTensorRequest(1);
  unknown.set_model_name("no-such-model");
  EXPECT_EQ(client->Classify(unknown, &response).error_code(), grpc::StatusCode::NOT_FOUND);

  const std::string metrics = server->FetchMetrics();
  for (const char* family :
       {"fovea_request_success_total", "fovea_request_failure_total", "fovea_inference_count_total",
        "fovea_execution_count_total", "fovea_pending_requests", "fovea_queue_duration_us", "fovea_compute_duration_us",
        "fovea_request_duration_us", "fovea_batch_size", "fovea_models_loaded"}) {
    EXPECT_NE(metrics.find(std::string("# TYPE ") + family + " "), std::string::npos) << family << "\n" << metrics;
  }
  EXPECT_EQ(MetricValue(metrics, "fovea_request_success_total{model=\"tiny\",rpc=\"Classify\"}"), 1);
  // An unknown model name is not a label value: it is counted under model="".
  EXPECT_EQ(MetricValue(metrics, "fovea_request_failure_total{model=\"\",reason=\"NOT_FOUND\",rpc=\"Classify\"}"), 1);
  EXPECT_EQ(MetricValue(metrics, "fovea_inference_count_total{model=\"tiny\"}"), 3);
  EXPECT_EQ(MetricValue(metrics, "fovea_execution_count_total{model=\"tiny\"}"), 1);
  EXPECT_EQ(MetricValue(metrics, "fovea_request_duration_us_count{model=\"tiny\",rpc=\"Classify\"}"), 1);
  EXPECT_EQ(MetricValue(metrics, "fovea_queue_duration_us_count{model=\"tiny\"}"), 1);
  EXPECT_EQ(MetricValue(metrics, "fovea_pending_requests{model=\"tiny\"}"), 0);
  EXPECT_EQ(MetricValue(metrics, "fovea_models_loaded"), 3) << "tiny:1, tiny:2 and rgb:1";
}

TEST(BatchingTest, ModelConfigFileOverridesTheFlags) {
  // The flags ask for batches of 1; the model's config.txt allows 8 and a delay that gathers the concurrent calls.
  const std::string repository = TinyRepository("# test\nmax_batch_size = 8\nmax_queue_delay_us = 300000\n");
  auto server = ServerProcess::Start({"--model-repository", repository, "--max-batch-size", "1"});
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->Log().find("model tiny:1: batching up to 8 image(s), queue delay 300000 us"), std::string::npos)
      << server->Log();
  const auto client = client::FoveaClient::Connect(server->address());
  EXPECT_EQ(ClassifyConcurrently(*client, TinyTensorRequest(1), 8, 1).at(grpc::StatusCode::OK), 8);
  EXPECT_LT(MetricValue(server->FetchMetrics(), "fovea_execution_count_total{model=\"tiny\"}"), 8);
  std::filesystem::remove_all(repository);
}

TEST(BatchingTest, DefaultInstancesFollowTheCpusTheServerMayUse) {
  // Started with one CPU in its affinity mask (as by taskset or docker --cpuset-cpus), the server sizes its defaults
  // for one CPU, not for the machine's count.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  int first = 0;
  while (!CPU_ISSET(first, &allowed)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  auto server = ServerProcess::Start();  // the child inherits the mask
  ASSERT_EQ(sched_setaffinity(0, sizeof(allowed), &allowed), 0);
  ASSERT_NE(server, nullptr);
  const std::string log = server->Log();
  EXPECT_NE(log.find("CPUs: 1 in the affinity mask"), std::string::npos) << log;
  const std::regex sizing(R"((\d+) instance\(s\) x (\d+) compute thread\(s\))");
  int models = 0;
  for (auto match = std::sregex_iterator(log.begin(), log.end(), sizing); match != std::sregex_iterator(); ++match) {
    ++models;
    EXPECT_EQ((*match)[0], "1 instance(s) x 1 compute thread(s)") << log;
  }
  EXPECT_GE(models, 1) << log;
  const auto client = client::FoveaClient::Connect(server->address());
  EXPECT_EQ(ClassifyConcurrently(*client, TinyTensorRequest(1), 4, 2).at(grpc::StatusCode::OK), 8);
}

TEST(BatchingTest, AnInvalidModelConfigFailsTheLoadWithFileAndLine) {
  const std::string repository = TinyRepository("max_batch_size = 8\nmax_queue_delay = 5\n");
  auto server = ServerProcess::Start({"--model-repository", repository});
  ASSERT_NE(server, nullptr);
  const auto client = client::FoveaClient::Connect(server->address());
  v1::ClassifyResponse response;
  const grpc::Status status = client->Classify(TinyTensorRequest(1), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << "the model is not loaded";
  EXPECT_NE(server->Log().find("config.txt line 2: unknown key 'max_queue_delay'"), std::string::npos) << server->Log();
  std::filesystem::remove_all(repository);
}

TEST(BatchingTest, SigtermAnswersEveryAcceptedRequestAndExitsZero) {
  // Requests wait up to 1 s in the queue, so SIGTERM arrives with work queued that must be finished, not dropped.
  auto server = ServerProcess::Start({"--max-queue-delay-us", "1000000"});
  ASSERT_NE(server, nullptr);
  const auto client = client::FoveaClient::Connect(server->address());
  std::mutex mutex;
  std::map<grpc::StatusCode, int> codes;
  std::vector<std::string> failures;
  std::atomic<bool> stop_sending{false};
  std::vector<std::thread> senders;
  for (int t = 0; t < 8; ++t) {
    senders.emplace_back([&] {
      while (!stop_sending) {
        v1::ClassifyResponse response;
        const grpc::Status status = client->Classify(TinyTensorRequest(1), &response);
        std::lock_guard lock(mutex);
        ++codes[status.error_code()];
        if (status.ok() && (response.results_size() != 1 || response.results(0).predictions_size() != 1)) {
          failures.push_back("an OK answer without its prediction");
        }
        if (!status.ok()) {
          failures.push_back(status.error_message());
          return;  // the server is going away
        }
      }
    });
  }
  EXPECT_EQ(WaitForMetric(*server, "fovea_pending_requests{model=\"tiny\"}", 8), 8) << "the queue never filled";
  EXPECT_EQ(server->StopWith(SIGTERM), 0);
  stop_sending = true;
  for (std::thread& sender : senders) sender.join();
  EXPECT_GE(codes[grpc::StatusCode::OK], 8) << "the queued requests must be answered";
  // Calls refused after shutdown began were never accepted; nothing accepted may end in any other way.
  for (const auto& [code, count] : codes) {
    EXPECT_TRUE(code == grpc::StatusCode::OK || code == grpc::StatusCode::UNAVAILABLE)
        << count << " call(s) ended with code " << code;
  }
  EXPECT_NE(server->Log().find("fovea-server stopped"), std::string::npos);
}

}  // namespace
}  // namespace fovea::testing
