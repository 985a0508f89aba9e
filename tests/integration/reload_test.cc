// Model repository control through the real server: versions added, changed, broken and removed while the server
// runs with --repository-poll-secs 1, including a reload under a steady stream of Classify requests.

#include <gtest/gtest.h>
#include <iostream>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <thread>

#include "client/fovea_client.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

namespace fs = std::filesystem;

constexpr auto kReloadTimeout = std::chrono::seconds(30);
constexpr auto kWaitStep = std::chrono::milliseconds(50);
constexpr int kLoadThreads = 2;
constexpr int kRequestsAfterReload = 20;

std::string ReadBytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// Puts `content` at `target` the way the docs tell users to: write a temporary file in the same folder, then rename
// it over the target, so the poller never sees half a file.
void WriteAtomically(const fs::path& target, const std::string& content) {
  fs::create_directories(target.parent_path());
  const fs::path temporary = target.parent_path() / ".model.onnx.partial";
  std::ofstream(temporary, std::ios::binary) << content;
  fs::rename(temporary, target);
}

std::string TinyModelBytes(int version) {
  return ReadBytes(fs::path(TestDataDir()) / "models" / "tiny" / std::to_string(version) / "model.onnx");
}

bool WaitFor(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + kReloadTimeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(kWaitStep);
  }
  return true;
}

size_t Count(const std::string& text, const std::string& fragment) {
  size_t count = 0;
  for (size_t at = text.find(fragment); at != std::string::npos; at = text.find(fragment, at + 1)) ++count;
  return count;
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override { repository_ = MakeTempDir(); }
  void TearDown() override { fs::remove_all(repository_); }

  void StartServer(const std::string& policy) {
    server_ = ServerProcess::Start(
        {"--model-repository", repository_.string(), "--repository-poll-secs", "1", "--version-policy", policy});
    ASSERT_NE(server_, nullptr);
    client_ = client::FoveaClient::Connect(server_->address());
  }

  // Classifies one image with tiny at `version` (0 = latest); the status, and the version that answered.
  grpc::Status Classify(int64_t version, int64_t* answered = nullptr, int seed = 0) const {
    v1::ClassifyRequest request = TinyRequest();
    request.set_model_version(version);
    *request.add_images() = EncodedImage(GrayPng(kTinySize, seed));
    v1::ClassifyResponse response;
    grpc::Status status = client_->Classify(request, &response);
    if (status.ok() && (response.results_size() != 1 || response.results(0).has_error())) {
      status = grpc::Status(grpc::StatusCode::INTERNAL, "the image itself failed");
    }
    if (answered != nullptr) *answered = status.ok() ? response.model_version() : -1;
    return status;
  }

  int64_t LatestVersion() const {
    int64_t answered = -1;
    return Classify(0, &answered).ok() ? answered : -1;
  }

  fs::path repository_;
  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<client::FoveaClient> client_;
};

TEST_F(ReloadTest, ANewVersionCopiedInUnderLoadAnswersWithZeroFailedRequests) {
  WriteAtomically(repository_ / "tiny" / "1" / "model.onnx", TinyModelBytes(1));
  StartServer("latest:1");
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> answered_by_new{0};
  std::atomic<int> requests{0};
  std::string first_failure;
  std::mutex failure_mutex;
  std::vector<std::thread> load;
  for (int thread = 0; thread < kLoadThreads; ++thread) {
    load.emplace_back([&, thread] {
      for (int i = 0; !stop; ++i) {
        int64_t version = 0;
        const grpc::Status status = Classify(0, &version, thread * 1000 + i);
        ++requests;
        if (!status.ok()) {
          std::lock_guard lock(failure_mutex);
          if (failures++ == 0) first_failure = status.error_message();
        }
        if (version == 2) ++answered_by_new;
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] { return requests > kRequestsAfterReload; }));
  WriteAtomically(repository_ / "tiny" / "2" / "model.onnx", TinyModelBytes(2));
  const bool reloaded = WaitFor([&] { return answered_by_new > kRequestsAfterReload; });
  stop = true;
  for (std::thread& thread : load) thread.join();
  EXPECT_TRUE(reloaded) << "version 2 never answered; server log:\n" << server_->Log();
  EXPECT_EQ(failures, 0) << "of " << requests << " requests; first: " << first_failure;
  std::cout << "REQUESTS " << requests << " by_new " << answered_by_new << std::endl;
  EXPECT_EQ(LatestVersion(), 2);
  int64_t ignored = 0;
  EXPECT_EQ(Classify(1, &ignored).error_code(), grpc::StatusCode::NOT_FOUND) << "latest:1 unloads version 1";
  // The poller logs the unload just after the swap; under CPU contention that line can trail the first answers.
  EXPECT_TRUE(WaitFor([&] { return server_->Log().find("unloaded model 'tiny' version 1") != std::string::npos; }))
      << server_->Log();
  EXPECT_NE(server_->Log().find("loaded model 'tiny' version 2"), std::string::npos) << server_->Log();
}

TEST_F(ReloadTest, ACorruptNewVersionIsLoggedOnceAndTheOldOneKeepsServing) {
  WriteAtomically(repository_ / "tiny" / "1" / "model.onnx", TinyModelBytes(1));
  StartServer("latest:1");
  WriteAtomically(repository_ / "tiny" / "2" / "model.onnx", "this is not an ONNX model");
  const std::string error = "tiny/2/model.onnx not loaded";
  ASSERT_TRUE(WaitFor([&] { return server_->Log().find(error) != std::string::npos; })) << server_->Log();
  // A few more poll passes must neither retry the unchanged file nor log it again.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(Count(server_->Log(), error), 1U) << server_->Log();
  EXPECT_EQ(LatestVersion(), 1);

  // A copy made without the rename: the poller may see it half-written, fail, and load it once it is complete.
  const std::string model = TinyModelBytes(2);
  {
    std::ofstream file(repository_ / "tiny" / "2" / "model.onnx", std::ios::binary | std::ios::trunc);
    file << model.substr(0, model.size() / 2) << std::flush;
    ASSERT_TRUE(WaitFor([&] { return Count(server_->Log(), error) >= 2; })) << server_->Log();
    EXPECT_EQ(LatestVersion(), 1);
    file << model.substr(model.size() / 2);
  }
  EXPECT_TRUE(WaitFor([&] { return LatestVersion() == 2; })) << server_->Log();
}

TEST_F(ReloadTest, AChangedVersionIsReloadedInPlaceAndABrokenChangeKeepsTheLoadedCopy) {
  WriteAtomically(repository_ / "tiny" / "1" / "model.onnx", TinyModelBytes(1));
  StartServer("latest:1");
  v1::GetModelResponse before;
  ASSERT_TRUE(client_->GetModel("tiny", 1, &before).ok());
  WriteAtomically(repository_ / "tiny" / "1" / "model.onnx", "garbage");
  ASSERT_TRUE(WaitFor([&] { return server_->Log().find("the copy loaded before keeps serving") != std::string::npos; }))
      << server_->Log();
  EXPECT_EQ(LatestVersion(), 1);
  // tiny/2's file (logits, not softmax) as version 1: the server reloads version 1 and serves the new weights.
  WriteAtomically(repository_ / "tiny" / "1" / "model.onnx", TinyModelBytes(2));
  EXPECT_TRUE(WaitFor([&] { return server_->Log().find("reloaded model 'tiny' version 1") != std::string::npos; }))
      << server_->Log();
  EXPECT_EQ(LatestVersion(), 1);
}

TEST_F(ReloadTest, ARemovedVersionIsUnloaded) {
  WriteAtomically(repository_ / "tiny" / "1" / "model.onnx", TinyModelBytes(1));
  WriteAtomically(repository_ / "tiny" / "2" / "model.onnx", TinyModelBytes(2));
  StartServer("all");
  ASSERT_EQ(LatestVersion(), 2);
  int64_t answered = 0;
  ASSERT_TRUE(Classify(1, &answered).ok());
  fs::remove_all(repository_ / "tiny" / "2");
  EXPECT_TRUE(WaitFor([&] { return LatestVersion() == 1; })) << server_->Log();
  EXPECT_EQ(Classify(2, &answered).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_TRUE(WaitFor([&] { return server_->Log().find("unloaded model 'tiny' version 2") != std::string::npos; }))
      << server_->Log();
}

TEST_F(ReloadTest, HealthAnswersForTheServerAndForTheInferenceService) {
  WriteAtomically(repository_ / "tiny" / "1" / "model.onnx", TinyModelBytes(1));
  StartServer("latest:1");
  for (const char* service : {"", "fovea.v1.Inference"}) {
    grpc::health::v1::HealthCheckResponse::ServingStatus serving{};
    ASSERT_TRUE(client_->CheckHealth(service, &serving).ok()) << service;
    EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
}

}  // namespace
}  // namespace fovea::testing
