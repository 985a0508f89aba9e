#include "server/ops/security.h"

#include <fstream>
#include <sstream>

#include <grpcpp/security/server_credentials.h>

#include "common/bearer_token.h"

namespace fovea::server {
namespace {

constexpr std::string_view kAuthorizationKey = "authorization";
constexpr std::string_view kBearerPrefix = "Bearer ";
constexpr std::string_view kPathKey = ":path";
// Health stays open so that load balancers and orchestrators can probe without a secret.
constexpr std::string_view kHealthPathPrefix = "/grpc.health.v1.Health/";

StatusOr<std::string> ReadWholeFile(const std::string& path, const char* flag) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  if (!file.good() && !file.eof()) {
    return InvalidArgument(std::string("--") + flag + ": cannot read " + path);
  }
  if (content.str().empty()) return InvalidArgument(std::string("--") + flag + ": " + path + " is empty or unreadable");
  return content.str();
}

Status CheckCombination(const ServerConfig& config) {
  const bool has_cert = !config.tls_cert_file.empty();
  if (has_cert != !config.tls_key_file.empty()) {
    return InvalidArgument("--tls-cert and --tls-key must be given together");
  }
  if (!has_cert && !config.tls_client_ca_file.empty()) {
    return InvalidArgument("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)");
  }
  if (!has_cert && !config.auth_token_file.empty()) {
    return InvalidArgument(
        "--auth-token-file needs --tls-cert and --tls-key: a bearer token sent in plaintext can be read and replayed "
        "by anyone on the network path");
  }
  return OkStatus();
}

}  // namespace

bool ConstantTimeEquals(std::string_view presented, std::string_view expected) {
  // The loop runs over `expected` whatever `presented` holds, and no branch depends on a byte's value.
  unsigned difference = presented.size() == expected.size() ? 0U : 1U;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char other = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0U;
    difference |= other ^ static_cast<unsigned char>(expected[i]);
  }
  return difference == 0;
}

StatusOr<std::string> ReadTokenFile(const std::string& path) {
  FOVEA_ASSIGN_OR_RETURN(std::string content, ReadWholeFile(path, "auth-token-file"));
  StatusOr<std::string> token = common::ParseBearerToken(content);
  if (!token.ok()) return InvalidArgument("--auth-token-file: " + path + ": " + token.status().message());
  return token;
}

grpc::Status BearerTokenChecker::Process(const InputMetadata& auth_metadata, grpc::AuthContext* /*context*/,
                                         OutputMetadata* /*consumed*/, OutputMetadata* /*response*/) {
  const auto path = auth_metadata.find(grpc::string_ref(kPathKey.data(), kPathKey.size()));
  if (path != auth_metadata.end() &&
      path->second.starts_with(grpc::string_ref(kHealthPathPrefix.data(), kHealthPathPrefix.size()))) {
    return grpc::Status::OK;
  }
  const auto header = auth_metadata.find(grpc::string_ref(kAuthorizationKey.data(), kAuthorizationKey.size()));
  if (header == auth_metadata.end()) {
    return {grpc::StatusCode::UNAUTHENTICATED,
            "missing bearer token: send the metadata 'authorization: Bearer <token>' (fovea --auth-token-file)"};
  }
  const std::string_view value(header->second.data(), header->second.size());
  if (!value.starts_with(kBearerPrefix) || !ConstantTimeEquals(value.substr(kBearerPrefix.size()), token_)) {
    return {grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token in the 'authorization' metadata"};
  }
  return grpc::Status::OK;
}

StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildServerCredentials(const ServerConfig& config) {
  FOVEA_RETURN_IF_ERROR(CheckCombination(config));
  if (config.tls_cert_file.empty()) return grpc::InsecureServerCredentials();
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  FOVEA_ASSIGN_OR_RETURN(pair.cert_chain, ReadWholeFile(config.tls_cert_file, "tls-cert"));
  FOVEA_ASSIGN_OR_RETURN(pair.private_key, ReadWholeFile(config.tls_key_file, "tls-key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!config.tls_client_ca_file.empty()) {
    FOVEA_ASSIGN_OR_RETURN(options.pem_root_certs, ReadWholeFile(config.tls_client_ca_file, "tls-client-ca"));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::SslServerCredentials(options);
  if (!config.auth_token_file.empty()) {
    FOVEA_ASSIGN_OR_RETURN(std::string token, ReadTokenFile(config.auth_token_file));
    credentials->SetAuthMetadataProcessor(std::make_shared<BearerTokenChecker>(std::move(token)));
  }
  return credentials;
}

}  // namespace fovea::server
