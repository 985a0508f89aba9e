#include "server/config.h"

#include <gtest/gtest.h>

#include <map>

#include "server/transport/grpc/grpc_status.h"

namespace fovea::server {
namespace {

EnvLookup FakeEnv(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

TEST(ServerConfigTest, DefaultsMatchTheDocumentedOnes) {
  const auto parsed = ParseServerFlags({}, FakeEnv({}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->config.address, "0.0.0.0:50051");
  EXPECT_EQ(parsed->config.model_repository, "models");
  EXPECT_EQ(parsed->config.max_message_bytes, size_t{64} << 20);
  EXPECT_EQ(parsed->config.log_format, LogFormat::kText);
  EXPECT_FALSE(parsed->help_requested);
}

TEST(ServerConfigTest, RepositoryAndSecurityFlags) {
  const auto defaults = ParseServerFlags({}, FakeEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(VersionPolicyText(defaults->config.version_policy), "latest:1");
  EXPECT_EQ(defaults->config.repository_poll_seconds, 5);
  EXPECT_TRUE(defaults->config.tls_cert_file.empty());
  const auto parsed = ParseServerFlags({"--version-policy", "specific:2,1", "--tls-cert", "c.pem", "--tls-key=k.pem"},
                                       FakeEnv({{"FOVEA_VERSION_POLICY", "all"},
                                                {"FOVEA_REPOSITORY_POLL_SECS", "0"},
                                                {"FOVEA_AUTH_TOKEN_FILE", "token.txt"},
                                                {"FOVEA_TLS_CLIENT_CA", "ca.pem"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(VersionPolicyText(parsed->config.version_policy), "specific:1,2");
  EXPECT_EQ(parsed->config.repository_poll_seconds, 0);
  EXPECT_EQ(parsed->config.tls_cert_file, "c.pem");
  EXPECT_EQ(parsed->config.tls_key_file, "k.pem");
  EXPECT_EQ(parsed->config.tls_client_ca_file, "ca.pem");
  EXPECT_EQ(parsed->config.auth_token_file, "token.txt");
  const auto bad = ParseServerFlags({"--version-policy", "newest"}, FakeEnv({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--version-policy"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(ParseServerFlags({"--repository-poll-secs", "-1"}, FakeEnv({})).ok());
}

TEST(ServerConfigTest, PrecisionFlag) {
  const auto defaults = ParseServerFlags({}, FakeEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.precision, engine::Precision::kFp32);
  const auto from_env = ParseServerFlags({}, FakeEnv({{"FOVEA_PRECISION", "bf16"}}));
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->config.precision, engine::Precision::kBf16);
  const auto bad = ParseServerFlags({"--precision", "int8"}, FakeEnv({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--precision"), std::string::npos) << bad.status().message();
}

TEST(ServerConfigTest, ModelControlModeAndLoadModelFlags) {
  const auto defaults = ParseServerFlags({}, FakeEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->config.explicit_model_control);
  const auto parsed = ParseServerFlags(
      {"--model-control-mode", "explicit", "--load-model", "resnet", "--load-model=segmenter"}, FakeEnv({}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_TRUE(parsed->config.explicit_model_control);
  EXPECT_EQ(parsed->config.load_models, (std::vector<std::string>{"resnet", "segmenter"}));
  const auto bad_mode = ParseServerFlags({"--model-control-mode", "none"}, FakeEnv({}));
  EXPECT_NE(bad_mode.status().message().find("--model-control-mode must be poll or explicit, got 'none'"),
            std::string::npos)
      << bad_mode.status().message();
  const auto without_explicit = ParseServerFlags({"--load-model", "resnet"}, FakeEnv({}));
  EXPECT_EQ(without_explicit.status().message(),
            "--load-model needs --model-control-mode explicit (in poll mode every model is loaded)");
  const auto bad_name = ParseServerFlags({"--model-control-mode=explicit", "--load-model", "../x"}, FakeEnv({}));
  EXPECT_NE(bad_name.status().message().find("--load-model: model name '../x' is invalid"), std::string::npos)
      << bad_name.status().message();
}

TEST(ServerConfigTest, ServingThreadPolicyFlag) {
  const auto defaults = ParseServerFlags({}, FakeEnv({}));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->config.serving_thread_policy, ServingThreadPolicy::kBatch);
  const auto from_env = ParseServerFlags({}, FakeEnv({{"FOVEA_SERVING_THREAD_POLICY", "normal"}}));
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->config.serving_thread_policy, ServingThreadPolicy::kNormal);
  const auto bad = ParseServerFlags({"--serving-thread-policy", "fifo"}, FakeEnv({}));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'fifo' is not batch or normal"), std::string::npos) << bad.status().message();
}

TEST(ServerConfigTest, EnvironmentAppliesAndFlagsWinOverIt) {
  const auto parsed = ParseServerFlags({"--address=127.0.0.1:9000", "--max-image-bytes", "512KiB"},
                                       FakeEnv({{"FOVEA_ADDRESS", "0.0.0.0:1"},
                                                {"FOVEA_LOG_FORMAT", "json"},
                                                {"FOVEA_MAX_MESSAGE_BYTES", "2GiB"},
                                                {"FOVEA_THREADS", "3"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.address, "127.0.0.1:9000");
  EXPECT_EQ(parsed->config.log_format, LogFormat::kJson);
  EXPECT_EQ(parsed->config.max_image_bytes, size_t{512} << 10);
  EXPECT_EQ(parsed->config.max_message_bytes, size_t{2} << 30);
  EXPECT_EQ(parsed->config.threads, 3);
}

struct BadConfigCase {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string expected_fragment;
};

class BadServerConfigTest : public ::testing::TestWithParam<BadConfigCase> {};

TEST_P(BadServerConfigTest, ErrorNamesTheFlagOrVariable) {
  const auto parsed = ParseServerFlags(GetParam().args, FakeEnv(GetParam().env));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(parsed.status().message().find(GetParam().expected_fragment), std::string::npos)
      << parsed.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadServerConfigTest,
    ::testing::Values(BadConfigCase{{"--threads", "lots"}, {}, "flag --threads: 'lots' is not an integer"},
                      BadConfigCase{{"--threads", "-1"}, {}, "-1 is outside [0, 1024]"},
                      BadConfigCase{{"--log-format", "xml"}, {}, "'xml' is not a log format"},
                      BadConfigCase{{"--log-level", "loud"}, {}, "'loud' is not a log level"},
                      BadConfigCase{{"--max-message-bytes", "12XB"}, {}, "--max-message-bytes"},
                      BadConfigCase{{"--no-such-flag"}, {}, "unknown flag --no-such-flag"},
                      BadConfigCase{{"--address"}, {}, "flag --address needs a value"},
                      BadConfigCase{{"positional"}, {}, "unexpected argument 'positional'"},
                      BadConfigCase{{}, {{"FOVEA_MAX_IMAGE_PIXELS", "0"}}, "environment FOVEA_MAX_IMAGE_PIXELS"}));

TEST(ServerConfigTest, BatchingAndMetricsFlagsHaveDefaultsAndVariables) {
  auto parsed = ParseServerFlags({}, FakeEnv({}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->config.max_batch_size, 64);
  EXPECT_EQ(parsed->config.max_queue_delay_us, 0);
  EXPECT_EQ(parsed->config.max_queue_size, 1024);
  EXPECT_EQ(parsed->config.instances, 0);
  EXPECT_EQ(parsed->config.metrics_port, 9090);
  EXPECT_EQ(parsed->config.http_port, 8000);
  parsed = ParseServerFlags({"--max-batch-size=8", "--instances", "2", "--metrics-port=0"},
                            FakeEnv({{"FOVEA_MAX_QUEUE_DELAY_US", "300"}, {"FOVEA_MAX_QUEUE_SIZE", "5"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.max_batch_size, 8);
  EXPECT_EQ(parsed->config.instances, 2);
  EXPECT_EQ(parsed->config.metrics_port, 0);
  EXPECT_EQ(parsed->config.max_queue_delay_us, 300);
  EXPECT_EQ(parsed->config.max_queue_size, 5);
  EXPECT_FALSE(ParseServerFlags({"--max-queue-size=0"}, FakeEnv({})).ok());
  EXPECT_FALSE(ParseServerFlags({"--instances=65"}, FakeEnv({})).ok());
  EXPECT_FALSE(ParseServerFlags({"--metrics-port=70000"}, FakeEnv({})).ok());
  parsed = ParseServerFlags({}, FakeEnv({{"FOVEA_HTTP_PORT", "0"}}));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->config.http_port, 0);
  EXPECT_FALSE(ParseServerFlags({"--http-port=-1"}, FakeEnv({})).ok());
}

TEST(ServerConfigTest, HelpListsEveryFlagWithVariableAndDefault) {
  const auto parsed = ParseServerFlags({"--help"}, FakeEnv({}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_TRUE(parsed->help_requested);
  const std::string help = ServerHelpText();
  for (const char* text : {"--address",
                           "FOVEA_ADDRESS",
                           "--model-repository",
                           "FOVEA_MODEL_REPOSITORY",
                           "--max-image-bytes",
                           "--max-image-pixels",
                           "--max-message-bytes",
                           "default 64MiB",
                           "--threads",
                           "--log-format",
                           "--log-level",
                           "--shutdown-timeout",
                           "--help",
                           "--max-batch-size",
                           "FOVEA_MAX_BATCH_SIZE",
                           "--max-queue-delay-us",
                           "--max-queue-size",
                           "--instances",
                           "FOVEA_INSTANCES",
                           "--metrics-port",
                           "FOVEA_METRICS_PORT",
                           "--http-port",
                           "FOVEA_HTTP_PORT"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text;
  }
}

TEST(GrpcStatusTest, EveryCodeKeepsItsMeaningAndMessage) {
  for (StatusCode code :
       {StatusCode::kCancelled, StatusCode::kInvalidArgument, StatusCode::kDeadlineExceeded, StatusCode::kNotFound,
        StatusCode::kAlreadyExists, StatusCode::kFailedPrecondition, StatusCode::kOutOfRange,
        StatusCode::kUnimplemented, StatusCode::kInternal, StatusCode::kUnavailable, StatusCode::kDataLoss,
        StatusCode::kResourceExhausted, StatusCode::kUnauthenticated}) {
    const grpc::Status status = ToGrpcStatus(Status(code, "why"));
    EXPECT_EQ(status.error_message(), "why");
    // The gRPC name of the mapped code is the name our Status prints.
    EXPECT_EQ(static_cast<int>(status.error_code()), static_cast<int>(code)) << StatusCodeName(code);
  }
  EXPECT_TRUE(ToGrpcStatus(OkStatus()).ok());
}

}  // namespace
}  // namespace fovea::server
