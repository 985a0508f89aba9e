// The `fovea` CLI and `fovea-server` binaries as a user runs them: output formats, exit statuses, folders, globs.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

namespace fs = std::filesystem;

size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerProcess::Start();
    ASSERT_NE(server_, nullptr);
    folder_ = MakeTempDir();
    WriteFile(folder_ / "a.png", GrayPng(kTinySize, 1));
    WriteFile(folder_ / "nested" / "deeper" / "b.png", GrayPng(kTinySize, 2));
    fs::copy_file(TestDataDir() + "/images/sample.jpg", folder_ / "nested" / "c.jpg");
    WriteFile(folder_ / "README.txt", "not an image");
    WriteFile(folder_ / "nested" / "notes.md", "# also not an image");
  }

  void TearDown() override { fs::remove_all(folder_); }

  CommandResult Classify(std::vector<std::string> args) {
    args.insert(args.begin(), {"classify", "--server", server_->address(), "--model", "tiny"});
    return RunCli(args);
  }

  std::unique_ptr<ServerProcess> server_;
  fs::path folder_;
};

TEST_F(CliTest, ClassifiesAFolderRecursivelyAndSkipsNonImages) {
  const CommandResult result = Classify({folder_.string(), "--batch-size", "2", "--concurrency", "2"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  for (const char* name : {"a.png", "b.png", "c.jpg"}) EXPECT_EQ(CountOccurrences(result.out, name), 1U) << result.out;
  EXPECT_EQ(result.out.find("README"), std::string::npos);
  EXPECT_NE(result.err.find("3 images, 0 failed, 2 non-image files skipped"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("images/s"), std::string::npos);
  EXPECT_EQ(result.err.find('\r'), std::string::npos) << "no progress bar when stderr is not a terminal";
}

TEST_F(CliTest, CsvHasAHeaderAndOneRowPerInputWithErrors) {
  const std::string missing = (folder_ / "missing.png").string();
  const CommandResult result =
      Classify({"--format", "csv", "--top-k", "2", folder_.string(), (folder_ / "README.txt").string(), missing});
  EXPECT_EQ(result.exit_code, 1) << "a failed input makes the exit status non-zero";
  std::istringstream lines(result.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "path,status,error,label_1,probability_1,label_2,probability_2");
  std::vector<std::string> rows;
  while (std::getline(lines, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 5U) << result.out;
  EXPECT_EQ(rows[0].rfind((folder_ / "a.png").string() + ",ok,,", 0), 0U) << rows[0];
  EXPECT_NE(rows[3].find("README.txt,INVALID_ARGUMENT,"), std::string::npos) << rows[3];
  EXPECT_NE(rows[4].find("missing.png,NOT_FOUND,no such file or folder"), std::string::npos) << rows[4];
}

TEST_F(CliTest, JsonIsValidAndListsEveryInput) {
  const CommandResult result = Classify({"--format", "json", folder_.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const std::string json_file = (folder_ / "out.json").string();
  WriteFile(json_file, result.out);
  const CommandResult check =
      RunCommand({FOVEA_PYTHON, "-c",
                  "import json,sys; d=json.load(open(sys.argv[1])); assert len(d)==3, d; "
                  "assert all(len(x['predictions'])==5 for x in d), d; print(d[0]['predictions'][0]['label'])",
                  json_file});
  EXPECT_EQ(check.exit_code, 0) << check.err << result.out;
}

TEST_F(CliTest, GlobsAndClientSideDecodingGiveTheSameAnswers) {
  // "d*" matches the folder "deeper", which is then walked like a named folder.
  const std::vector<std::string> globs = {(folder_ / "nested" / "*.jpg").string(),
                                          (folder_ / "nested" / "d*").string()};
  const CommandResult glob = Classify({"--format", "csv", globs[0], globs[1]});
  EXPECT_EQ(glob.exit_code, 0) << glob.err;
  EXPECT_EQ(CountOccurrences(glob.out, "b.png"), 1U) << glob.out;
  EXPECT_EQ(CountOccurrences(glob.out, "c.jpg"), 1U) << glob.out;
  const CommandResult local = Classify({"--format", "csv", "--decode-locally", globs[0], globs[1]});
  EXPECT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(local.out, glob.out);
  const CommandResult nothing = Classify({(folder_ / "*.gif").string()});
  EXPECT_EQ(nothing.exit_code, 1);
  EXPECT_NE(nothing.out.find("no file matches this pattern"), std::string::npos) << nothing.out;
}

TEST_F(CliTest, ModelIsRequiredWhenTheServerHasSeveral) {
  const CommandResult result = RunCli({"classify", "--server", server_->address(), folder_.string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("choose one with --model"), std::string::npos) << result.err;
}

TEST_F(CliTest, ServerSideErrorsReachEveryImageOfTheBatch) {
  const CommandResult result = Classify({"--top-k", "11", "--format", "csv", folder_.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(CountOccurrences(result.out, "INVALID_ARGUMENT,\"top_k 11 is outside [1, 10]"), 3U) << result.out;
}

TEST_F(CliTest, ModelsAndHealth) {
  const CommandResult models = RunCli({"models", "--server", server_->address()});
  EXPECT_EQ(models.exit_code, 0) << models.err;
  EXPECT_NE(models.out.find("tiny"), std::string::npos);
  EXPECT_NE(models.out.find("1,2"), std::string::npos) << models.out;
  EXPECT_NE(models.out.find("3x16x16"), std::string::npos) << models.out;
  const CommandResult health = RunCli({"health", "--server", server_->address()});
  EXPECT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(health.out, "SERVING\n");
  const CommandResult unknown = RunCli({"health", "--server", server_->address(), "--service", "no.such.Service"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("NOT_FOUND"), std::string::npos) << unknown.err;
}

TEST_F(CliTest, HealthFailsWhenNoServerListens) {
  const std::string address = server_->address();
  ASSERT_EQ(server_->StopWith(SIGTERM), 0);
  const CommandResult health = RunCli({"health", "--server", address});
  EXPECT_EQ(health.exit_code, 1);
  EXPECT_NE(health.err.find("UNAVAILABLE"), std::string::npos) << health.err;
}

TEST_F(CliTest, UsageErrorsExitWithTwo) {
  EXPECT_EQ(RunCli({}).exit_code, 2);
  EXPECT_EQ(RunCli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(Classify({"--no-such-flag", folder_.string()}).exit_code, 2);
  EXPECT_EQ(Classify({"--format", "xml", folder_.string()}).exit_code, 2);
  EXPECT_EQ(Classify({}).exit_code, 2);
  const CommandResult help = RunCli({"classify", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--decode-locally"), std::string::npos);
}

TEST(ServerBinaryTest, HelpDocumentsEveryFlagWithItsEnvironmentVariable) {
  const CommandResult help = RunCommand({FOVEA_SERVER_BINARY, "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--address", "--model-repository", "--max-image-bytes", "--max-image-pixels",
                           "--max-message-bytes", "--threads", "--log-format", "--log-level", "FOVEA_ADDRESS",
                           "FOVEA_MODEL_REPOSITORY", "FOVEA_LOG_LEVEL", "0.0.0.0:50051", "64MiB"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
  for (const char* flag : {"--version-policy", "latest:1", "FOVEA_REPOSITORY_POLL_SECS", "--tls-cert", "--tls-key",
                           "--tls-client-ca", "--auth-token-file"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag;
  }
}

TEST(ServerBinaryTest, BadFlagsAndMissingRepositoryFailFast) {
  const CommandResult bad_flag = RunCommand({FOVEA_SERVER_BINARY, "--threads", "many"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_NE(bad_flag.err.find("--threads"), std::string::npos) << bad_flag.err;
  const CommandResult missing = RunCommand({FOVEA_SERVER_BINARY, "--address", "127.0.0.1:0", "--metrics-port", "0",
                                            "--http-port", "0", "--model-repository", "/nonexistent/fovea/models"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/fovea/models is not a directory"), std::string::npos) << missing.err;
}

TEST(ServerBinaryTest, EnvironmentVariablesConfigureTheServerAndFlagsWin) {
  // No fixed metrics port: tests run in parallel, and the default (9090) would collide.
  const CommandResult from_env =
      RunCommand({FOVEA_SERVER_BINARY, "--address", "127.0.0.1:0", "--metrics-port", "0", "--http-port", "0"},
                 {{"FOVEA_MODEL_REPOSITORY", "/nonexistent/from-env"}});
  EXPECT_EQ(from_env.exit_code, 1);
  EXPECT_NE(from_env.err.find("/nonexistent/from-env is not a directory"), std::string::npos) << from_env.err;
  const CommandResult flag_wins =
      RunCommand({FOVEA_SERVER_BINARY, "--address", "127.0.0.1:0", "--metrics-port", "0", "--http-port", "0",
                  "--model-repository", "/nonexistent/from-flag"},
                 {{"FOVEA_MODEL_REPOSITORY", "/nonexistent/from-env"}, {"FOVEA_LOG_FORMAT", "json"}});
  EXPECT_EQ(flag_wins.exit_code, 1);
  EXPECT_NE(flag_wins.err.find("/nonexistent/from-flag is not a directory"), std::string::npos) << flag_wins.err;
  EXPECT_EQ(flag_wins.err.rfind("{\"time\":", 0), 0U) << "FOVEA_LOG_FORMAT=json: " << flag_wins.err;
}

TEST(ServerBinaryTest, ClassifyPicksTheOnlyModelWhenNoneIsNamed) {
  const fs::path repository = MakeTempDir();
  fs::create_directories(repository / "solo" / "4");
  fs::copy_file(TestDataDir() + "/models/tiny/1/model.onnx", repository / "solo" / "4" / "model.onnx");
  WriteFile(repository / "image.png", GrayPng(kTinySize, 3));
  auto server = ServerProcess::Start({"--model-repository", repository.string()});
  ASSERT_NE(server, nullptr);
  const CommandResult result =
      RunCli({"classify", "--server", server->address(), "--format", "json", (repository / "image.png").string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("\"predictions\""), std::string::npos) << result.out;
  fs::remove_all(repository);
}

TEST(ServerBinaryTest, APortInUseIsAStartupFailure) {
  auto first = ServerProcess::Start();
  ASSERT_NE(first, nullptr);
  const CommandResult second =
      RunCommand({FOVEA_SERVER_BINARY, "--address", first->address(), "--metrics-port", "0", "--http-port", "0",
                  "--model-repository", TestDataDir() + "/models", "--threads", "1"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("cannot listen on " + first->address()), std::string::npos) << second.err;
}

TEST(ServerBinaryTest, JsonLogsAreOneObjectPerLine) {
  auto server = ServerProcess::Start({"--log-format", "json"});
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->StopWith(SIGTERM), 0);
  std::istringstream lines(server->Log());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    EXPECT_EQ(line.rfind("{\"time\":\"", 0), 0U) << line;
    EXPECT_EQ(line.back(), '}') << line;
    ++count;
  }
  EXPECT_GT(count, 2);
}

}  // namespace
}  // namespace fovea::testing
