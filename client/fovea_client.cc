#include "client/fovea_client.h"

#include <array>
#include <thread>

namespace fovea::client {
namespace {

constexpr char kAuthorizationKey[] = "authorization";

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const ClientOptions& options) {
  if (!options.tls && options.tls_root_certs.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = options.tls_root_certs;
  ssl.pem_cert_chain = options.tls_cert_chain;
  ssl.pem_private_key = options.tls_private_key;
  return grpc::SslCredentials(ssl);
}

// gRPC's own load balancing and retries, as a service config: round_robin over every address the target resolves
// to, and every fovea.v1 RPC retried on UNAVAILABLE, on whichever replica round_robin picks next. All our RPCs are
// idempotent reads (Classify computes, it changes nothing), so a retried call can never apply twice. gRPC caps
// maxAttempts at 5; the backoff (0.1 s doubling, at most 2 s, jittered) spans a replica restart's few seconds. Health
// checks are not retried: a probe wants the state now.
constexpr char kRoundRobinWithRetries[] = R"json(
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{"service": "fovea.v1.Inference"}],
    "retryPolicy": {
      "maxAttempts": 5,
      "initialBackoff": "0.1s",
      "maxBackoff": "2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }])json";

// With several replicas, round_robin also skips those whose grpc.health.v1 status is not SERVING (a draining server
// leaves the rotation before it stops). A single server is not health-filtered: `fovea health` must see its
// NOT_SERVING answer rather than a channel that waits for it to turn SERVING.
std::string ServiceConfig(const std::string& target) {
  const bool replicas = target.starts_with("ipv4:") || target.starts_with("ipv6:") || target.starts_with("dns:");
  return std::string("{") + (replicas ? R"json("healthCheckConfig": {"serviceName": ""},)json" : "") +
         kRoundRobinWithRetries + "}";
}

// Attempts of one Classify call when a proxy in between resets it (see IsResetByProxy), and the pause before the
// next one (doubling).
constexpr int kResetAttempts = 4;
constexpr auto kResetBackoff = std::chrono::milliseconds(100);

// A load balancer such as nginx answers a call whose replica died after the proxy had started its response with
// RST_STREAM(INTERNAL_ERROR). gRPC saw response headers, so its own retry policy treats the call as committed; the
// server never answered it, though, and Classify is idempotent, so the call is sent again.
bool IsResetByProxy(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::INTERNAL && status.error_message().starts_with("Received RST_STREAM");
}

}  // namespace

std::unique_ptr<FoveaClient> FoveaClient::Connect(const std::string& target, ClientOptions options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_message_bytes);
  arguments.SetMaxSendMessageSize(options.max_message_bytes);
  arguments.SetServiceConfigJSON(ServiceConfig(target));
  // Each client owns its connections. gRPC otherwise shares subchannels between channels to the same address, so a
  // new client made after a server restart would inherit an older client's reconnect backoff (about a second).
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  // A call is retryable only while its request is still buffered; gRPC's default buffer (256 KiB) would make a batch
  // of large images unretryable, so buffer up to the largest message we send.
  arguments.SetInt(GRPC_ARG_PER_RPC_RETRY_BUFFER_SIZE, options.max_message_bytes);
  auto channel = grpc::CreateCustomChannel(target, ChannelCredentials(options), arguments);
  return std::unique_ptr<FoveaClient>(new FoveaClient(std::move(channel), options));
}

FoveaClient::FoveaClient(std::shared_ptr<grpc::Channel> channel, ClientOptions options)
    : options_(options),
      channel_(std::move(channel)),
      inference_(v1::Inference::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)),
      oip_(::inference::GRPCInferenceService::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> FoveaClient::NewContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + options_.timeout);
  AddCredentials(*context);
  return context;
}

void FoveaClient::AddCredentials(grpc::ClientContext& context) const {
  // Plain metadata rather than gRPC call credentials, so that the header is the same whatever the channel.
  if (!options_.bearer_token.empty()) context.AddMetadata(kAuthorizationKey, "Bearer " + options_.bearer_token);
}

grpc::Status FoveaClient::ModelMetadata(const std::string& name, const std::string& version,
                                        ::inference::ModelMetadataResponse* response) const {
  ::inference::ModelMetadataRequest request;
  request.set_name(name);
  request.set_version(version);
  return oip_->ModelMetadata(NewContext().get(), request, response);
}

std::unique_ptr<FoveaClient::InferStream> FoveaClient::OpenInferStream(grpc::ClientContext* context) const {
  AddCredentials(*context);
  return oip_->ModelStreamInfer(context);
}

grpc::Status FoveaClient::Classify(const v1::ClassifyRequest& request, v1::ClassifyResponse* response) const {
  auto backoff = kResetBackoff;
  for (int attempt = 1;; ++attempt) {
    const grpc::Status status = inference_->Classify(NewContext().get(), request, response);
    if (!IsResetByProxy(status) || attempt == kResetAttempts) return status;
    std::this_thread::sleep_for(backoff);
    backoff *= 2;
  }
}

void FoveaClient::StartClassify(const v1::ClassifyRequest& request, v1::ClassifyResponse* response,
                                std::function<void(grpc::Status)> done) const {
  // The context must outlive the call; the completion callback owns it and releases it last.
  std::shared_ptr<grpc::ClientContext> context = NewContext();
  grpc::ClientContext* call_context = context.get();
  inference_->async()->Classify(call_context, &request, response,
                                [context = std::move(context), done = std::move(done)](grpc::Status status) mutable {
                                  done(std::move(status));
                                  context.reset();
                                });
}

grpc::Status FoveaClient::Localize(const v1::LocalizeRequest& request, v1::LocalizeResponse* response) const {
  return inference_->Localize(NewContext().get(), request, response);
}

grpc::Status FoveaClient::ListModels(v1::ListModelsResponse* response) const {
  return inference_->ListModels(NewContext().get(), v1::ListModelsRequest(), response);
}

grpc::Status FoveaClient::GetModel(const std::string& name, int64_t version, v1::GetModelResponse* response) const {
  v1::GetModelRequest request;
  request.set_model_name(name);
  request.set_model_version(version);
  return inference_->GetModel(NewContext().get(), request, response);
}

grpc::Status FoveaClient::CheckHealth(const std::string& service,
                                      grpc::health::v1::HealthCheckResponse::ServingStatus* status) const {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status result = health_->Check(NewContext().get(), request, &response);
  *status = result.ok() ? response.status() : grpc::health::v1::HealthCheckResponse::UNKNOWN;
  return result;
}

const char* GrpcCodeName(int code) {
  static constexpr std::array<const char*, 17> kNames = {
      "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
      "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
      "DATA_LOSS", "UNAUTHENTICATED"};
  if (code < 0 || code >= static_cast<int>(kNames.size())) return "UNKNOWN_CODE";
  return kNames[static_cast<size_t>(code)];
}

}  // namespace fovea::client
