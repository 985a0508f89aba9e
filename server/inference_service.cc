#include "server/inference_service.h"

#include <chrono>
#include <exception>

#include <spdlog/spdlog.h>

#include "server/call_log.h"

namespace fovea::server {
namespace {

std::string ClassifySummary(const v1::ClassifyResponse& response) {
  int failed = 0;
  for (const v1::ImageResult& result : response.results()) failed += result.has_error() ? 1 : 0;
  return "model=" + response.model_name() + ":" + std::to_string(response.model_version()) +
         " images=" + std::to_string(response.results_size()) + " failed=" + std::to_string(failed);
}

// Runs one Classify on a worker thread; no exception may escape into gRPC.
Status RunClassify(grpc::CallbackServerContext* context, const ServedModel& model, const v1::ClassifyRequest& request,
                   const ClassifyOptions& options, v1::ClassifyResponse& response) {
  if (context->IsCancelled()) return {StatusCode::kCancelled, "request was cancelled before it ran"};
  try {
    return ClassifyImages(model, request, options, response);
  } catch (const std::exception& error) {
    return Internal(std::string("classification failed: ") + error.what());
  }
}

}  // namespace

std::vector<int64_t> VersionsOf(const ModelCatalog& catalog, const std::string& name) {
  std::vector<int64_t> versions;
  const auto found = catalog.find(name);
  if (found == catalog.end()) return versions;
  for (const auto& [version, model] : found->second) versions.push_back(version);
  return versions;
}

InferenceService::InferenceService(const ModelRepository& repository, WorkerPool& workers, ClassifyOptions options)
    : repository_(repository), workers_(workers), options_(options) {}

grpc::ServerUnaryReactor* InferenceService::Classify(grpc::CallbackServerContext* context,
                                                     const v1::ClassifyRequest* request,
                                                     v1::ClassifyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "Classify");
  StatusOr<std::shared_ptr<const ServedModel>> model =
      repository_.Find(request->model_name(), request->model_version());
  if (!model.ok()) {
    FinishCall(reactor, log, model.status(), "");
    return reactor;
  }
  spdlog::debug("[{}] Classify started: model={} images={}", log.request_id, request->model_name(),
                request->images_size());
  // Inference is CPU-bound; gRPC's callback threads must stay free to accept and answer other calls.
  const bool queued = workers_.Submit([this, context, request, response, reactor, log, model = *model] {
    const Status status = RunClassify(context, *model, *request, options_, *response);
    FinishCall(reactor, log, status, ClassifySummary(*response));
  });
  if (!queued) FinishCall(reactor, log, {StatusCode::kUnavailable, "server is shutting down"}, "");
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* /*request*/,
                                                       v1::ListModelsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ListModels");
  const std::shared_ptr<const ModelCatalog> catalog = repository_.Snapshot();
  for (const auto& [name, versions] : *catalog) {
    if (versions.empty()) continue;
    v1::ModelSummary* summary = response->add_models();
    summary->set_name(name);
    for (const auto& [version, model] : versions) summary->add_versions(version);
    summary->set_latest_version(versions.rbegin()->first);
  }
  FinishCall(reactor, log, OkStatus(), "models=" + std::to_string(response->models_size()));
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::GetModel(grpc::CallbackServerContext* context,
                                                     const v1::GetModelRequest* request,
                                                     v1::GetModelResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "GetModel");
  StatusOr<std::shared_ptr<const ServedModel>> model =
      repository_.Find(request->model_name(), request->model_version());
  if (model.ok()) DescribeModel(**model, VersionsOf(*repository_.Snapshot(), (*model)->name), *response);
  FinishCall(reactor, log, model.status(), "model=" + request->model_name());
  return reactor;
}

void DescribeModel(const ServedModel& model, const std::vector<int64_t>& versions, v1::GetModelResponse& response) {
  const engine::ModelMetadata& metadata = model.model->metadata();
  response.set_name(model.name);
  response.set_version(model.version);
  for (int64_t version : versions) response.add_versions(version);
  for (const std::string& label : metadata.labels) response.add_labels(label);
  response.set_num_classes(model.num_classes);
  v1::InputSpec* input = response.mutable_input();
  input->set_layout(metadata.input_layout);
  input->set_channels(model.channels);
  input->set_height(model.height);
  input->set_width(model.width);
  for (float mean : metadata.mean) input->add_mean(mean);
  for (float std : metadata.std) input->add_std(std);
  for (const auto& [key, value] : metadata.properties) (*response.mutable_metadata())[key] = value;
}

}  // namespace fovea::server
