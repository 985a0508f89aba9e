#include "server/ops/security.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/bearer_token.h"

namespace fovea::server {
namespace {

using Metadata = grpc::AuthMetadataProcessor::InputMetadata;

grpc::Status Check(const Metadata& metadata) {
  BearerTokenChecker checker("right-token");
  grpc::AuthMetadataProcessor::OutputMetadata consumed;
  grpc::AuthMetadataProcessor::OutputMetadata response;
  return checker.Process(metadata, nullptr, &consumed, &response);
}

TEST(SecurityTest, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("abd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abcd", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "abc"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("ab\0", 3), "ab")) << "a trailing NUL is not equality";
}

TEST(SecurityTest, TheCheckerWantsTheRightBearerTokenExceptForHealth) {
  EXPECT_TRUE(Check({{":path", "/fovea.v1.Inference/Classify"}, {"authorization", "Bearer right-token"}}).ok());
  const grpc::Status missing = Check({{":path", "/fovea.v1.Inference/Classify"}});
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(missing.error_message().find("missing bearer token"), std::string::npos);
  for (const char* value : {"Bearer wrong-token", "Bearer right-tokenX", "bearer right-token", "right-token",
                            "Bearer  right-token", "Basic cmlnaHQtdG9rZW4="}) {
    const grpc::Status status = Check({{":path", "/fovea.v1.Inference/ListModels"}, {"authorization", value}});
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << value;
  }
  EXPECT_TRUE(Check({{":path", "/grpc.health.v1.Health/Check"}}).ok());
  EXPECT_TRUE(Check({{":path", "/grpc.health.v1.Health/Watch"}}).ok());
  EXPECT_EQ(Check({{":path", "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}}).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Check({{":path", "/grpc.health.v1.HealthX/Check"}}).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(SecurityTest, TokenFilesAreTrimmedAndMustBeHeaderSafe) {
  EXPECT_EQ(common::ParseBearerToken("  abc.DEF-123_~\n").value(), "abc.DEF-123_~");
  const auto empty = common::ParseBearerToken("\n \t");
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("empty"), std::string::npos);
  const auto spaced = common::ParseBearerToken("two words");
  EXPECT_EQ(spaced.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(spaced.status().message().find("printable ASCII"), std::string::npos);
  EXPECT_EQ(common::ParseBearerToken("caf\xc3\xa9").status().code(), StatusCode::kInvalidArgument);
}

TEST(SecurityTest, ImpossibleFlagCombinationsAreRejected) {
  const auto expect_error = [](const ServerConfig& config, const std::string& fragment) {
    const auto credentials = BuildServerCredentials(config);
    ASSERT_FALSE(credentials.ok()) << fragment;
    EXPECT_EQ(credentials.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(credentials.status().message().find(fragment), std::string::npos) << credentials.status().message();
  };
  ServerConfig config;
  EXPECT_TRUE(BuildServerCredentials(config).ok()) << "plaintext is the default";
  config.tls_key_file = "key.pem";
  expect_error(config, "--tls-cert and --tls-key must be given together");
  config = {};
  config.tls_client_ca_file = "ca.pem";
  expect_error(config, "--tls-client-ca needs --tls-cert");
  config = {};
  config.auth_token_file = "token";
  expect_error(config, "--auth-token-file needs --tls-cert");
  config.tls_cert_file = "/nonexistent/cert.pem";
  config.tls_key_file = "/nonexistent/key.pem";
  expect_error(config, "--tls-cert: cannot read /nonexistent/cert.pem");
  config = {};
  config.http_port = 8000;
  EXPECT_TRUE(BuildServerCredentials(config).ok()) << "plaintext gRPC and REST together";
  config.auth_token_file = "token";
  expect_error(config, "--auth-token-file needs --tls-cert");  // the REST port takes the token on the same terms
}

}  // namespace
}  // namespace fovea::server
