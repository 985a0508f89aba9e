#include "server/oip_service.h"

#include <exception>

#include <spdlog/spdlog.h>

#include "server/call_log.h"
#include "server/inference_service.h"
#include "server/oip_infer.h"

namespace fovea::server {
namespace {

constexpr char kServerName[] = "fovea";
// The protocol extensions fovea-server implements (Triton's names).
constexpr const char* kExtensions[] = {"classification"};

std::string InferSummary(const oip::ModelInferResponse& response) {
  int64_t images = 0;
  if (!response.outputs().empty() && !response.outputs(0).shape().empty()) images = response.outputs(0).shape(0);
  return "model=" + response.model_name() + ":" + response.model_version() + " images=" + std::to_string(images);
}

// Runs one ModelInfer on a worker thread; no exception may escape into gRPC.
Status RunInfer(grpc::CallbackServerContext* context, const ServedModel& model, const oip::ModelInferRequest& request,
                const ClassifyOptions& options, oip::ModelInferResponse& response) {
  if (context->IsCancelled()) return {StatusCode::kCancelled, "request was cancelled before it ran"};
  try {
    return RunModelInfer(model, request, options, response);
  } catch (const std::exception& error) {
    return Internal(std::string("inference failed: ") + error.what());
  }
}

}  // namespace

OipService::OipService(const ModelRepository& repository, WorkerPool& workers, ClassifyOptions options)
    : repository_(repository), workers_(workers), options_(options) {}

void OipService::SetDraining() { draining_ = true; }

StatusOr<std::shared_ptr<const ServedModel>> OipService::Find(const std::string& name,
                                                              const std::string& version) const {
  FOVEA_ASSIGN_OR_RETURN(const int64_t parsed, ParseModelVersion(version));
  return repository_.Find(name, parsed);
}

grpc::ServerUnaryReactor* OipService::ServerLive(grpc::CallbackServerContext* context,
                                                 const oip::ServerLiveRequest* /*request*/,
                                                 oip::ServerLiveResponse* response) {
  // Liveness and readiness probes are not logged: orchestrators call them every few seconds.
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  response->set_live(true);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ServerReady(grpc::CallbackServerContext* context,
                                                  const oip::ServerReadyRequest* /*request*/,
                                                  oip::ServerReadyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  // Ready means a model can be served: not draining, and at least one model loaded.
  response->set_ready(!draining_ && !repository_.Snapshot()->empty());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelReady(grpc::CallbackServerContext* context,
                                                 const oip::ModelReadyRequest* request,
                                                 oip::ModelReadyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ModelReady");
  StatusOr<std::shared_ptr<const ServedModel>> model = Find(request->name(), request->version());
  // An unknown model or version is simply not ready; a malformed name or version string is the caller's error.
  Status status = model.status();
  if (status.code() == StatusCode::kNotFound) status = OkStatus();
  response->set_ready(model.ok() && !draining_);
  FinishCall(reactor, log, status, "model=" + request->name() + (response->ready() ? " ready=true" : " ready=false"));
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ServerMetadata(grpc::CallbackServerContext* context,
                                                     const oip::ServerMetadataRequest* /*request*/,
                                                     oip::ServerMetadataResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ServerMetadata");
  response->set_name(kServerName);
  response->set_version(FOVEA_VERSION);
  for (const char* extension : kExtensions) response->add_extensions(extension);
  FinishCall(reactor, log, OkStatus(), "");
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelMetadata(grpc::CallbackServerContext* context,
                                                    const oip::ModelMetadataRequest* request,
                                                    oip::ModelMetadataResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ModelMetadata");
  StatusOr<std::shared_ptr<const ServedModel>> model = Find(request->name(), request->version());
  if (model.ok()) DescribeOipModel(**model, VersionsOf(*repository_.Snapshot(), (*model)->name), *response);
  FinishCall(reactor, log, model.status(), "model=" + request->name());
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelInfer(grpc::CallbackServerContext* context,
                                                 const oip::ModelInferRequest* request,
                                                 oip::ModelInferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "ModelInfer");
  StatusOr<std::shared_ptr<const ServedModel>> model = Find(request->model_name(), request->model_version());
  if (!model.ok()) {
    FinishCall(reactor, log, model.status(), "");
    return reactor;
  }
  spdlog::debug("[{}] ModelInfer started: model={} inputs={}", log.request_id, request->model_name(),
                request->inputs_size());
  // Inference is CPU-bound; gRPC's callback threads must stay free to accept and answer other calls.
  const bool queued = workers_.Submit([this, context, request, response, reactor, log, model = *model] {
    const Status status = RunInfer(context, *model, *request, options_, *response);
    FinishCall(reactor, log, status, InferSummary(*response));
  });
  if (!queued) FinishCall(reactor, log, {StatusCode::kUnavailable, "server is shutting down"}, "");
  return reactor;
}

}  // namespace fovea::server
