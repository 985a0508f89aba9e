#pragma once
// FoveaClient: a small synchronous client for fovea.v1.Inference and grpc.health.v1.Health (and the Open Inference
// Protocol's metadata and streaming calls, for `fovea bench --stream`). Errors are plain
// grpc::Status values, exactly as the server sent them. Thread-safe: one client may be shared by many threads.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "fovea/v1/inference.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "inference/grpc_service.grpc.pb.h"

namespace fovea::client {

struct ClientOptions {
  std::chrono::milliseconds timeout{60000};  // deadline of each call
  int max_message_bytes = 64 << 20;          // largest request or response message (gRPC's own default is 4 MB)
  bool tls = false;                          // speak TLS; implied by tls_root_certs
  std::string tls_root_certs;                // PEM CA bundle the server certificate must chain to; "" = system roots
  std::string tls_cert_chain;                // PEM client certificate, for servers that require mutual TLS
  std::string tls_private_key;               // PEM key of tls_cert_chain
  std::string bearer_token;                  // sent as "authorization: Bearer <token>" on every call; "" = none
};

class FoveaClient {
 public:
  // Creates a client for `target` (a gRPC target: "host:port", "dns:///name:port", "ipv4:a:p,b:q"; see
  // ParseServerList); connects lazily on the first call. Calls are balanced round-robin over the addresses the target
  // resolves to and retried on UNAVAILABLE; Classify is also resent when a proxy resets it (fovea_client.cc).
  static std::unique_ptr<FoveaClient> Connect(const std::string& target, ClientOptions options = {});

  grpc::Status Classify(const v1::ClassifyRequest& request, v1::ClassifyResponse* response) const;
  // Classify without holding a thread: `done` runs on one of gRPC's threads when the call ends. `request` and
  // `response` must stay alive until then. Unlike Classify, a call reset by a proxy is not sent again.
  void StartClassify(const v1::ClassifyRequest& request, v1::ClassifyResponse* response,
                     std::function<void(grpc::Status)> done) const;
  grpc::Status Localize(const v1::LocalizeRequest& request, v1::LocalizeResponse* response) const;
  grpc::Status ListModels(v1::ListModelsResponse* response) const;
  // `version` 0 asks for the latest.
  grpc::Status GetModel(const std::string& name, int64_t version, v1::GetModelResponse* response) const;
  // Open Inference Protocol ModelMetadata of `name` at `version` ("" = the latest).
  grpc::Status ModelMetadata(const std::string& name, const std::string& version,
                             ::inference::ModelMetadataResponse* response) const;
  // A ModelStreamInfer stream (Triton's streaming extension of the Open Inference Protocol) on `context`, which gets
  // the client's bearer token but no deadline: a stream lasts as long as its user keeps it open.
  using InferStream = grpc::ClientReaderWriter<::inference::ModelInferRequest, ::inference::ModelStreamInferResponse>;
  std::unique_ptr<InferStream> OpenInferStream(grpc::ClientContext* context) const;
  // The health status of `service` ("" = the whole server).
  grpc::Status CheckHealth(const std::string& service,
                           grpc::health::v1::HealthCheckResponse::ServingStatus* status) const;

 private:
  FoveaClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options);
  // A fresh context carrying the deadline and the credentials.
  std::unique_ptr<grpc::ClientContext> NewContext() const;
  void AddCredentials(grpc::ClientContext& context) const;

  ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Inference::Stub> inference_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<::inference::GRPCInferenceService::Stub> oip_;
};

// "INVALID_ARGUMENT" for code 3, etc.; "UNKNOWN_CODE" outside the canonical range.
const char* GrpcCodeName(int code);

}  // namespace fovea::client
