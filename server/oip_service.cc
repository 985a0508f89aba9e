#include "server/oip_service.h"

#include <exception>

#include <spdlog/spdlog.h>

#include "server/call_log.h"
#include "server/inference_service.h"
#include "server/oip_infer.h"
#include "server/oip_inputs.h"

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

// Converts the request's inputs on a worker thread and queues them on the model's batcher; the call is answered from
// the batcher's completion (or here, when nothing reaches the batcher). No exception may escape into gRPC.
void ConvertAndSubmit(grpc::CallbackServerContext* context, const std::shared_ptr<const ServedModel>& model,
                      Batcher& batcher, const oip::ModelInferRequest& request, const ClassifyOptions& options,
                      oip::ModelInferResponse* response, grpc::ServerUnaryReactor* reactor, const CallLog& log) {
  if (context->IsCancelled()) {
    FinishCall(reactor, log, {StatusCode::kCancelled, "request was cancelled before it ran"}, "");
    return;
  }
  StatusOr<RequestedOutput> output = Internal("not resolved");
  StatusOr<engine::Tensor> images = Internal("not converted");
  try {
    output = ResolveOutput(*model, request);
    if (output.ok()) images = ConvertInferInput(*model, request, options);
  } catch (const std::exception& error) {
    images = Internal(std::string("inference failed: ") + error.what());
  }
  if (!output.ok() || !images.ok()) {
    FinishCall(reactor, log, output.ok() ? images.status() : output.status(), "");
    return;
  }
  const int64_t batch = images->dim(0);
  BatchItem item;
  item.images = std::move(*images);
  item.deadline = SteadyDeadline(context);
  item.cancelled = [context] { return context->IsCancelled(); };
  item.done = [model, &request, output = *output, batch, response, reactor,
               log](StatusOr<std::span<const float>> scores) {
    if (scores.ok()) WriteInferResponse(*model, request, output, *scores, batch, *response);
    FinishCall(reactor, log, scores.status(), LogsCallDetail() ? InferSummary(*response) : "");
  };
  const Status submitted = batcher.Submit(std::move(item));
  if (!submitted.ok()) FinishCall(reactor, log, submitted, "");
}

}  // namespace

OipService::OipService(const ModelRepository& repository, WorkerPool& workers, ModelBatchers& batchers,
                       Metrics& metrics, ClassifyOptions options)
    : repository_(repository), workers_(workers), batchers_(batchers), metrics_(metrics), options_(options) {}

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
  // Ready means a model can be served: not draining, and at least one model loaded and warmed up.
  response->set_ready(!draining_ && repository_.ready() && !repository_.Snapshot()->empty());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelReady(grpc::CallbackServerContext* context,
                                                 const oip::ModelReadyRequest* request,
                                                 oip::ModelReadyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ModelReady", metrics_);
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
  const CallLog log = StartCall(context, "ServerMetadata", metrics_);
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
  const CallLog log = StartCall(context, "ModelMetadata", metrics_);
  StatusOr<std::shared_ptr<const ServedModel>> model = Find(request->name(), request->version());
  if (model.ok()) DescribeOipModel(**model, VersionsOf(*repository_.Snapshot(), (*model)->name), *response);
  FinishCall(reactor, log, model.status(), "model=" + request->name());
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelInfer(grpc::CallbackServerContext* context,
                                                 const oip::ModelInferRequest* request,
                                                 oip::ModelInferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "ModelInfer", metrics_);
  StatusOr<std::shared_ptr<const ServedModel>> model = Find(request->model_name(), request->model_version());
  if (!model.ok()) {
    FinishCall(reactor, log, model.status(), "");
    return reactor;
  }
  log.model = (*model)->name;
  spdlog::debug("[{}] ModelInfer started: model={} inputs={}", log.request_id, request->model_name(),
                request->inputs_size());
  // Converting (and decoding BYTES inputs) is CPU-bound, and a model's first request creates its batcher (compiling
  // plans); gRPC's callback threads must stay free.
  const bool queued = workers_.Submit([this, context, request, response, reactor, log, model = *model] {
    StatusOr<std::shared_ptr<Batcher>> batcher = batchers_.For(model);
    if (!batcher.ok()) {
      FinishCall(reactor, log, batcher.status(), "");
      return;
    }
    ConvertAndSubmit(context, model, **batcher, *request, options_, response, reactor, log);
  });
  if (!queued) FinishCall(reactor, log, {StatusCode::kUnavailable, "server is shutting down"}, "");
  return reactor;
}

}  // namespace fovea::server
