// `fovea bench` against the real server: counts, JSON output, raw and encoded images, the rate limit, errors by code.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

namespace fs = std::filesystem;

// The integer after `"key": ` in a flat JSON text, or -1.
long long JsonInteger(const std::string& json, const std::string& key) {
  std::smatch match;
  if (!std::regex_search(json, match, std::regex("\"" + key + "\": (-?[0-9]+)"))) return -1;
  return std::stoll(match[1]);
}

std::string ReadText(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

class BenchCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerProcess::Start();
    ASSERT_NE(server_, nullptr);
    folder_ = MakeTempDir();
  }
  void TearDown() override { fs::remove_all(folder_); }

  CommandResult Bench(std::vector<std::string> args) {
    args.insert(args.begin(), {"bench", "--server", server_->address(), "--model", "tiny"});
    return RunCli(args);
  }

  std::unique_ptr<ServerProcess> server_;
  fs::path folder_;
};

TEST_F(BenchCliTest, FixedRequestCountWithGeneratedImagesWritesJson) {
  const fs::path json_path = folder_ / "report.json";
  const CommandResult result =
      Bench({"--requests", "40", "--concurrency", "4", "--batch-size", "3", "--json", json_path.string()});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("40 ok, 0 failed"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("p99"), std::string::npos) << result.out;
  const std::string json = ReadText(json_path);
  EXPECT_EQ(JsonInteger(json, "ok"), 40) << json;
  EXPECT_EQ(JsonInteger(json, "failed"), 0) << json;
  EXPECT_EQ(JsonInteger(json, "count"), 40) << json;
  EXPECT_EQ(JsonInteger(json, "batch_size"), 3) << json;
  EXPECT_NE(json.find("\"errors\": {}"), std::string::npos) << json;
}

TEST_F(BenchCliTest, RawPixelsFromFilesAtAFixedRate) {
  const fs::path image = folder_ / "a.png";
  std::ofstream(image, std::ios::binary) << GrayPng(kTinySize, 3);
  const fs::path json_path = folder_ / "report.json";
  const CommandResult result =
      Bench({"--raw", "--rate", "40", "--duration", "1.5", "--json", json_path.string(), image.string()});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const std::string json = ReadText(json_path);
  EXPECT_NE(json.find("\"input\": \"raw\""), std::string::npos) << json;
  // 40 requests/s for 1.5 s is 60 scheduled requests: the schedule, not the server, sets the count.
  EXPECT_EQ(JsonInteger(json, "ok"), 60) << json;
}

TEST_F(BenchCliTest, FailedRequestsAreCountedByCodeAndFailTheRun) {
  const fs::path not_image = folder_ / "notes.png";
  std::ofstream(not_image) << "not an image";
  const CommandResult result = Bench({"--requests", "10", not_image.string()});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("0 ok, 10 failed"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("INVALID_ARGUMENT 10"), std::string::npos) << result.out;
}

TEST_F(BenchCliTest, StreamSendsTheRequestsOnModelStreamInferStreams) {
  const fs::path json_path = folder_ / "report.json";
  const CommandResult result =
      Bench({"--stream", "--requests", "40", "--concurrency", "4", "--batch-size", "2", "--json", json_path.string()});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("ModelStreamInfer, encoded images"), std::string::npos) << result.out;
  const std::string json = ReadText(json_path);
  EXPECT_EQ(JsonInteger(json, "ok"), 40) << json;
  EXPECT_EQ(JsonInteger(json, "failed"), 0) << json;
  // Every request went over a stream: the server counted them under that RPC.
  EXPECT_NE(server_->FetchMetrics().find("fovea_request_success_total{model=\"tiny\",rpc=\"ModelStreamInfer\"} 40"),
            std::string::npos)
      << server_->FetchMetrics();

  const fs::path image = folder_ / "a.png";
  std::ofstream(image, std::ios::binary) << GrayPng(kTinySize, 3);
  const CommandResult raw = Bench({"--stream", "--raw", "--requests", "10", image.string()});
  ASSERT_EQ(raw.exit_code, 0) << raw.out << raw.err;
  EXPECT_NE(raw.out.find("10 ok, 0 failed"), std::string::npos) << raw.out;
}

TEST_F(BenchCliTest, StreamedFailuresAreCountedByCodeAndTheStreamGoesOn) {
  const fs::path not_image = folder_ / "notes.png";
  std::ofstream(not_image) << "not an image";
  const fs::path image = folder_ / "a.png";
  std::ofstream(image, std::ios::binary) << GrayPng(kTinySize, 3);
  const CommandResult result =
      Bench({"--stream", "--concurrency", "1", "--requests", "10", not_image.string(), image.string()});
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("5 ok, 5 failed"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("INVALID_ARGUMENT 5"), std::string::npos) << result.out;
}

TEST_F(BenchCliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(Bench({"--requests", "5", "--duration", "2"}).exit_code, 2);
  EXPECT_EQ(Bench({"--rate", "fast"}).exit_code, 2);
  EXPECT_EQ(Bench({"--concurrency", "0"}).exit_code, 2);
  const CommandResult missing = Bench({"--requests", "1", (folder_ / "missing.png").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace fovea::testing
