// ModelStreamInfer (Triton's streaming extension of the Open Inference Protocol) and the serving threads' scheduling
// policy, through the real fovea-server.

#include <gtest/gtest.h>
#include <sched.h>

#include <dirent.h>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "inference/grpc_service.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

using Stream = grpc::ClientReaderWriter<inference::ModelInferRequest, inference::ModelStreamInferResponse>;

std::unique_ptr<inference::GRPCInferenceService::Stub> OipStub(const ServerProcess& server) {
  return inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()));
}

// One FP32 image of the tiny model's input shape, all pixels `value`.
inference::ModelInferRequest TinyInfer(const std::string& id, float value, const std::string& model = "tiny") {
  inference::ModelInferRequest request;
  request.set_model_name(model);
  request.set_id(id);
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("FP32");
  for (int64_t dim : {1, 1, kTinySize, kTinySize}) input->add_shape(dim);
  const std::vector<float> pixels(static_cast<size_t>(kTinySize * kTinySize), value);
  request.add_raw_input_contents(std::string(reinterpret_cast<const char*>(pixels.data()), pixels.size() * 4));
  return request;
}

// `count` encoded PNGs of `side` x `side` pixels as one BYTES input: decoding them takes the worker pool a while.
inference::ModelInferRequest SlowPngInfer(const std::string& id, int count, uint32_t side) {
  inference::ModelInferRequest request;
  request.set_model_name("tiny");
  request.set_id(id);
  auto* input = request.add_inputs();
  input->set_name("input");
  input->set_datatype("BYTES");
  input->add_shape(count);
  const std::string png = GrayPng(side, 1);
  std::string raw;
  for (int i = 0; i < count; ++i) {
    const auto length = static_cast<uint32_t>(png.size());
    char prefix[4];
    std::memcpy(prefix, &length, sizeof(prefix));  // little-endian on every machine this runs on
    raw.append(prefix, sizeof(prefix));
    raw += png;
  }
  request.add_raw_input_contents(raw);
  return request;
}

std::string ScoresOf(const inference::ModelInferResponse& response) {
  return response.raw_output_contents_size() == 1 ? response.raw_output_contents(0) : "";
}

std::vector<float> FloatsOf(const std::string& raw) {
  std::vector<float> values(raw.size() / sizeof(float));
  std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
  return values;
}

// The same image gives the same scores whichever batch it ran in, up to the order in which the CPU's kernels sum:
// oneDNN picks its blocking by batch size, and on an AVX2-only CPU two batch sizes differ in the last bit.
void ExpectSameScores(const std::string& streamed, const std::string& unary, const std::string& id) {
  ASSERT_EQ(streamed.size(), unary.size()) << id;
  const std::vector<float> got = FloatsOf(streamed);
  const std::vector<float> want = FloatsOf(unary);
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], 1e-5F * std::abs(want[i]) + 1e-7F) << id << " score " << i;
  }
}

// Waits until the server's log contains `text`.
bool WaitForLog(const ServerProcess& server, const std::string& text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server.Log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(StreamTest, ManyRequestsInFlightAreEachAnsweredOnceByIdLikeModelInfer) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const auto stub = OipStub(*server);
  constexpr int kRequests = 40;
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&context);
  // Every request is written before any answer is read: they are in flight together and batched together.
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_TRUE(stream->Write(TinyInfer("image-" + std::to_string(i), static_cast<float>(i % 7) * 0.1F)));
  }
  ASSERT_TRUE(stream->WritesDone());
  std::map<std::string, inference::ModelInferResponse> answers;
  inference::ModelStreamInferResponse answer;
  while (stream->Read(&answer)) {
    EXPECT_EQ(answer.error_message(), "") << answer.infer_response().id();
    EXPECT_TRUE(answers.emplace(answer.infer_response().id(), answer.infer_response()).second)
        << "answered twice: " << answer.infer_response().id();
  }
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(answers.size(), static_cast<size_t>(kRequests));
  for (int i : {0, 3, 39}) {
    const std::string id = "image-" + std::to_string(i);
    grpc::ClientContext unary_context;
    inference::ModelInferResponse unary;
    ASSERT_TRUE(stub->ModelInfer(&unary_context, TinyInfer(id, static_cast<float>(i % 7) * 0.1F), &unary).ok());
    EXPECT_EQ(answers[id].model_name(), "tiny");
    ExpectSameScores(ScoresOf(answers[id]), ScoresOf(unary), id);
    EXPECT_FALSE(ScoresOf(unary).empty());
  }
  EXPECT_NE(server->FetchMetrics().find("fovea_request_success_total{model=\"tiny\",rpc=\"ModelStreamInfer\"} 40"),
            std::string::npos)
      << server->FetchMetrics();
}

TEST(StreamTest, AFailedRequestIsAnsweredWithItsErrorAndTheStreamGoesOn) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const auto stub = OipStub(*server);
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&context);
  inference::ModelInferRequest truncated = TinyInfer("truncated", 0.5F);
  truncated.mutable_raw_input_contents(0)->resize(10);
  const std::map<std::string, std::pair<std::string, std::string>> expected_errors = {
      {"unknown", {"NOT_FOUND", "model 'no-such-model' not found"}}, {"truncated", {"INVALID_ARGUMENT", "got 10"}}};
  for (const inference::ModelInferRequest& request :
       {TinyInfer("before", 0.2F), TinyInfer("unknown", 0.2F, "no-such-model"), truncated, TinyInfer("after", 0.3F)}) {
    ASSERT_TRUE(stream->Write(request));
  }
  ASSERT_TRUE(stream->WritesDone());
  std::set<std::string> answered;
  inference::ModelStreamInferResponse answer;
  while (stream->Read(&answer)) {
    const std::string& id = answer.infer_response().id();
    answered.insert(id);
    const auto expected = expected_errors.find(id);
    if (expected == expected_errors.end()) {
      EXPECT_EQ(answer.error_message(), "") << id;
      EXPECT_FALSE(ScoresOf(answer.infer_response()).empty()) << id;
      continue;
    }
    EXPECT_NE(answer.error_message().find(expected->second.second), std::string::npos) << answer.error_message();
    const auto& parameters = answer.infer_response().parameters();
    ASSERT_TRUE(parameters.contains("error_code")) << id;
    EXPECT_EQ(parameters.at("error_code").string_param(), expected->second.first) << id;
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(answered, (std::set<std::string>{"before", "unknown", "truncated", "after"}));
}

TEST(StreamTest, SigtermAnswersWhatWasReadThenEndsTheStreamWithUnavailable) {
  auto server = ServerProcess::Start({"--log-level", "debug", "--threads", "1"});
  ASSERT_NE(server, nullptr);
  const auto stub = OipStub(*server);
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&context);
  // Large PNGs take the one worker a while to decode, so SIGTERM lands while the request is in flight.
  constexpr int kImages = 150;
  ASSERT_TRUE(stream->Write(SlowPngInfer("slow", kImages, 1024)));
  ASSERT_TRUE(WaitForLog(*server, "ModelStreamInfer started")) << server->Log();
  std::thread stop([&] { EXPECT_EQ(server->StopWith(SIGTERM), 0) << server->Log(); });
  inference::ModelStreamInferResponse answer;
  ASSERT_TRUE(stream->Read(&answer)) << "the accepted request was not answered";
  EXPECT_EQ(answer.error_message(), "");
  EXPECT_EQ(answer.infer_response().id(), "slow");
  ASSERT_EQ(answer.infer_response().outputs_size(), 1);
  EXPECT_EQ(answer.infer_response().outputs(0).shape(0), kImages);
  EXPECT_FALSE(stream->Read(&answer));
  const grpc::Status status = stream->Finish();
  stop.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_EQ(status.error_message(), "server is shutting down");
  const std::string log = server->Log();
  EXPECT_LT(log.find("received signal"), log.find("ModelStreamInfer OK")) << "answered during the drain:\n" << log;
}

TEST(StreamTest, AClientThatCancelsMidRequestLeavesTheServerServing) {
  auto server = ServerProcess::Start({"--log-level", "debug", "--threads", "1"});
  ASSERT_NE(server, nullptr);
  const auto stub = OipStub(*server);
  {
    grpc::ClientContext context;
    std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&context);
    ASSERT_TRUE(stream->Write(SlowPngInfer("abandoned", 60, 1024)));
    ASSERT_TRUE(WaitForLog(*server, "ModelStreamInfer started")) << server->Log();
    context.TryCancel();
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  }
  // The abandoned request finishes (or is dropped) on the server without anyone to answer; a new stream is served.
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = stub->ModelStreamInfer(&context);
  ASSERT_TRUE(stream->Write(TinyInfer("next", 0.4F)));
  inference::ModelStreamInferResponse answer;
  ASSERT_TRUE(stream->Read(&answer));
  EXPECT_EQ(answer.error_message(), "");
  EXPECT_EQ(answer.infer_response().id(), "next");
  ASSERT_TRUE(stream->WritesDone());
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(server->StopWith(SIGTERM), 0) << server->Log();
}

// Name → scheduling policies of the server's threads.
std::multimap<std::string, int> ThreadPolicies(pid_t pid) {
  std::multimap<std::string, int> policies;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (dir == nullptr) return policies;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream comm(tasks + "/" + entry->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    const int policy = sched_getscheduler(static_cast<pid_t>(std::stoi(entry->d_name)));
    if (policy >= 0) policies.emplace(name, policy);
  }
  closedir(dir);
  return policies;
}

TEST(ThreadPolicyTest, ServingThreadsRunBatchAndComputeThreadsNormal) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  const std::multimap<std::string, int> policies = ThreadPolicies(server->pid());
  int instances = 0;
  int serving = 0;
  for (const auto& [name, policy] : policies) {
    if (name == "fovea-instance") {
      ++instances;
      EXPECT_EQ(policy, SCHED_OTHER) << name;
    } else {
      ++serving;
      EXPECT_EQ(policy, SCHED_BATCH) << name;
    }
  }
  EXPECT_GE(instances, 1);
  EXPECT_GE(serving, 3);  // at least the main thread, a worker and gRPC's own

  auto normal = ServerProcess::Start({"--serving-thread-policy", "normal"});
  ASSERT_NE(normal, nullptr);
  for (const auto& [name, policy] : ThreadPolicies(normal->pid())) EXPECT_EQ(policy, SCHED_OTHER) << name;
}

}  // namespace
}  // namespace fovea::testing
