#include "server/transport/grpc/oip_service.h"

#include <spdlog/spdlog.h>

#include "server/api/model_infer_call.h"
#include "server/api/oip_infer.h"
#include "server/api/oip_repository.h"
#include "server/pipeline/admission.h"
#include "server/pipeline/call_log.h"
#include "server/pipeline/request_pipeline.h"
#include "server/transport/grpc/inference_service.h"

namespace fovea::server {
namespace {

constexpr char kServerName[] = "fovea";
// The protocol extensions fovea-server implements (Triton's names).
constexpr const char* kExtensions[] = {"classification", "model_configuration", "statistics", "model_repository"};

}  // namespace

void DescribeOipServer(oip::ServerMetadataResponse& response) {
  response.set_name(kServerName);
  response.set_version(FOVEA_VERSION);
  for (const char* extension : kExtensions) response.add_extensions(extension);
}

OipService::OipService(ServingContext serving) : serving_(std::move(serving)) {}

void OipService::SetDraining() {
  draining_ = true;
  streams_.DrainAll();
}

StatusOr<std::shared_ptr<const ServedModel>> OipService::Find(const std::string& name,
                                                              const std::string& version) const {
  return FindOipModel(serving_.repository, name, version);
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
  response->set_ready(!draining_ && CanServe(serving_.repository));
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelReady(grpc::CallbackServerContext* context,
                                                 const oip::ModelReadyRequest* request,
                                                 oip::ModelReadyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ModelReady", serving_.metrics);
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
  const CallLog log = StartCall(context, "ServerMetadata", serving_.metrics);
  DescribeOipServer(*response);
  FinishCall(reactor, log, OkStatus(), "");
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelMetadata(grpc::CallbackServerContext* context,
                                                    const oip::ModelMetadataRequest* request,
                                                    oip::ModelMetadataResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ModelMetadata", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model = Find(request->name(), request->version());
  if (model.ok()) DescribeOipModel(**model, VersionsOf(*serving_.repository.Snapshot(), (*model)->name), *response);
  FinishCall(reactor, log, model.status(), "model=" + request->name());
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelInfer(grpc::CallbackServerContext* context,
                                                 const oip::ModelInferRequest* request,
                                                 oip::ModelInferResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "ModelInfer", serving_.metrics);
  const std::shared_ptr<const ServedModel> model =
      AdmitUnary(reactor, log, Find(request->model_name(), request->model_version()));
  if (model == nullptr) return reactor;
  spdlog::debug("[{}] ModelInfer started: model={} inputs={}", log.request_id, request->model_name(),
                request->inputs_size());
  SubmitModelInfer(serving_, model, *request, *response,
                   UnaryCallHooks(context, reactor, log, [response] { return InferSummary(*response); }));
  return reactor;
}

grpc::ServerBidiReactor<oip::ModelInferRequest, oip::ModelStreamInferResponse>* OipService::ModelStreamInfer(
    grpc::CallbackServerContext* context) {
  // The stream keeps itself alive until gRPC is done with it.
  return streams_.Open(context, serving_).get();
}

grpc::ServerUnaryReactor* OipService::ModelConfig(grpc::CallbackServerContext* context,
                                                  const oip::ModelConfigRequest* request,
                                                  oip::ModelConfigResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ModelConfig", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model = Find(request->name(), request->version());
  StatusOr<BatchingOptions> batching = model.ok() ? serving_.batchers.OptionsFor(**model) : model.status();
  if (batching.ok()) DescribeModelConfig(**model, *batching, *response->mutable_config());
  FinishCall(reactor, log, batching.status(), "model=" + request->name());
  return reactor;
}

grpc::ServerUnaryReactor* OipService::ModelStatistics(grpc::CallbackServerContext* context,
                                                      const oip::ModelStatisticsRequest* request,
                                                      oip::ModelStatisticsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ModelStatistics", serving_.metrics);
  StatusOr<oip::ModelStatisticsResponse> statistics =
      DescribeStatistics(serving_.repository, serving_.metrics, request->name(), request->version());
  if (statistics.ok()) *response = std::move(*statistics);
  FinishCall(reactor, log, statistics.status(), "model=" + request->name());
  return reactor;
}

grpc::ServerUnaryReactor* OipService::RepositoryIndex(grpc::CallbackServerContext* context,
                                                      const oip::RepositoryIndexRequest* request,
                                                      oip::RepositoryIndexResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "RepositoryIndex", serving_.metrics);
  const Status status = CheckRepositoryName(request->repository_name());
  if (status.ok()) DescribeRepositoryIndex(serving_.poller.Index(), request->ready(), *response);
  FinishCall(reactor, log, status, "models=" + std::to_string(response->models_size()));
  return reactor;
}

grpc::ServerUnaryReactor* OipService::RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                          const oip::RepositoryModelLoadRequest* request,
                                                          oip::RepositoryModelLoadResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "RepositoryModelLoad", serving_.metrics);
  const std::string detail = "model=" + request->model_name();
  const Status checked = CheckRepositoryName(request->repository_name());
  StatusOr<std::string> config = checked.ok() ? LoadConfigParameter(*request) : StatusOr<std::string>(checked);
  if (!config.ok()) {
    FinishCall(reactor, log, config.status(), detail);
    return reactor;
  }
  // Loading reads, warms up and compiles a model (seconds): on a worker, never on gRPC's callback thread.
  RunOnWorkers(
      serving_.workers,
      [this, reactor, log, detail, name = request->model_name(), config = std::move(*config)] {
        FinishCall(reactor, log, serving_.poller.Load(name, config), detail);
      },
      [reactor, &log, &detail](const Status& refused) { FinishCall(reactor, log, refused, detail); });
  return reactor;
}

grpc::ServerUnaryReactor* OipService::RepositoryModelUnload(grpc::CallbackServerContext* context,
                                                            const oip::RepositoryModelUnloadRequest* request,
                                                            oip::RepositoryModelUnloadResponse* /*response*/) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "RepositoryModelUnload", serving_.metrics);
  Status status = CheckRepositoryName(request->repository_name());
  if (status.ok()) status = serving_.poller.Unload(request->model_name());
  FinishCall(reactor, log, status, "model=" + request->model_name());
  return reactor;
}

}  // namespace fovea::server
