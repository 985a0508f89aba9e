#pragma once
// Transport security of fovea-server: plaintext, TLS (--tls-cert/--tls-key), mutual TLS (--tls-client-ca), and the
// bearer token (--auth-token-file) every RPC except grpc.health.v1.Health must carry. The REST port takes the same
// flags (server/transport/rest/http_server.h), with /v2/health/{live,ready} open as grpc.health.v1.Health is here.
//
// The token check is a gRPC AuthMetadataProcessor: it runs on every call before any handler (so it covers
// fovea.v1.Inference, the v2 inference service and reflection alike) and fails the call with UNAUTHENTICATED. gRPC
// only runs processors on secure credentials, which is also the right rule for a bearer token: sent in plaintext,
// anyone on the path could read and replay it. So --auth-token-file requires --tls-cert.

#include <memory>
#include <string>
#include <string_view>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>

#include "common/status.h"
#include "server/config.h"

namespace fovea::server {

// The credentials the server listens with, built from the TLS and token flags. Reads the PEM and token files;
// errors name the flag and the file (INVALID_ARGUMENT for combinations that cannot work, such as a key without a
// certificate or a token without TLS).
StatusOr<std::shared_ptr<grpc::ServerCredentials>> BuildServerCredentials(const ServerConfig& config);

// Reads a bearer token file (format: common/bearer_token.h); errors name the flag and the file.
StatusOr<std::string> ReadTokenFile(const std::string& path);

// True when `presented` equals `expected`. Takes the same time for every `presented` of a given length, whatever its
// content, so a client cannot learn the token byte by byte from response times.
bool ConstantTimeEquals(std::string_view presented, std::string_view expected);

// Accepts a call when its "authorization" metadata is "Bearer <token>"; health checks pass without one. Never
// blocks, so gRPC runs it inline on the thread that read the headers.
class BearerTokenChecker final : public grpc::AuthMetadataProcessor {
 public:
  explicit BearerTokenChecker(std::string token) : token_(std::move(token)) {}

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context, OutputMetadata* consumed,
                       OutputMetadata* response) override;

 private:
  const std::string token_;
};

}  // namespace fovea::server
