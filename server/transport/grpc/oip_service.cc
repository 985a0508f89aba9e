#include "server/transport/grpc/oip_service.h"

#include <spdlog/spdlog.h>

#include "server/api/model_infer_call.h"
#include "server/api/oip_infer.h"
#include "server/pipeline/admission.h"
#include "server/pipeline/call_log.h"
#include "server/transport/grpc/inference_service.h"

namespace fovea::server {
namespace {

constexpr char kServerName[] = "fovea";
// The protocol extensions fovea-server implements (Triton's names).
constexpr const char* kExtensions[] = {"classification"};

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

}  // namespace fovea::server
