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

// Decodes the request on a worker thread and queues its good images on the model's batcher; the call is answered
// from the batcher's completion (or here, when nothing reaches the batcher). No exception may escape into gRPC.
void DecodeAndSubmit(grpc::CallbackServerContext* context, const std::shared_ptr<const ServedModel>& model,
                     Batcher& batcher, const v1::ClassifyRequest& request, const ClassifyOptions& options,
                     v1::ClassifyResponse* response, grpc::ServerUnaryReactor* reactor, const CallLog& log) {
  if (context->IsCancelled()) {
    FinishCall(reactor, log, {StatusCode::kCancelled, "request was cancelled before it ran"}, "");
    return;
  }
  StatusOr<PreparedClassify> prepared = Internal("not prepared");
  try {
    prepared = PrepareClassify(*model, request, options, *response);
  } catch (const std::exception& error) {
    prepared = Internal(std::string("classification failed: ") + error.what());
  }
  if (!prepared.ok() || prepared->good_images.empty()) {
    FinishCall(reactor, log, prepared.status(), LogsCallDetail() ? ClassifySummary(*response) : "");
    return;
  }
  auto shared = std::make_shared<PreparedClassify>(std::move(*prepared));
  BatchItem item;
  item.images = shared->images;
  item.deadline = SteadyDeadline(context);
  item.cancelled = [context] { return context->IsCancelled(); };
  item.done = [model, shared, response, reactor, log](StatusOr<std::span<const float>> scores) {
    const Status status = scores.ok() ? FillPredictions(*model, *shared, *scores, *response) : scores.status();
    FinishCall(reactor, log, status, LogsCallDetail() ? ClassifySummary(*response) : "");
  };
  const Status submitted = batcher.Submit(std::move(item));
  if (!submitted.ok()) FinishCall(reactor, log, submitted, "");
}

std::string LocalizeSummary(const v1::LocalizeResponse& response) {
  return "model=" + response.model_name() + ":" + std::to_string(response.model_version()) +
         " method=" + v1::LocalizationMethod_Name(response.method()) +
         " image=" + std::to_string(response.image_width()) + "x" + std::to_string(response.image_height()) +
         " heatmaps=" + std::to_string(response.heatmaps_size()) +
         " detections=" + std::to_string(response.detections_size());
}

// Runs one Localize on a worker thread; no exception may escape into gRPC.
Status RunLocalize(grpc::CallbackServerContext* context, const ServedModel& model, const v1::LocalizeRequest& request,
                   const LocalizeOptions& options, v1::LocalizeResponse& response) {
  if (context->IsCancelled()) return {StatusCode::kCancelled, "request was cancelled before it ran"};
  try {
    return LocalizeImage(model, request, options, response);
  } catch (const std::exception& error) {
    return Internal(std::string("localization failed: ") + error.what());
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

InferenceService::InferenceService(const ModelRepository& repository, common::ThreadPool& workers, ModelBatchers& batchers,
                                   Metrics& metrics, ClassifyOptions options)
    : repository_(repository), workers_(workers), batchers_(batchers), metrics_(metrics), options_(options) {}

grpc::ServerUnaryReactor* InferenceService::Classify(grpc::CallbackServerContext* context,
                                                     const v1::ClassifyRequest* request,
                                                     v1::ClassifyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "Classify", metrics_);
  StatusOr<std::shared_ptr<const ServedModel>> model =
      repository_.Find(request->model_name(), request->model_version());
  if (!model.ok()) {
    FinishCall(reactor, log, model.status(), "");
    return reactor;
  }
  log.model = (*model)->name;
  spdlog::debug("[{}] Classify started: model={} images={}", log.request_id, request->model_name(),
                request->images_size());
  // Decoding is CPU-bound (and a model's first request creates its batcher, compiling plans); gRPC's callback threads
  // must stay free to accept and answer other calls.
  const bool queued = workers_.Submit([this, context, request, response, reactor, log, model = *model] {
    StatusOr<std::shared_ptr<Batcher>> batcher = batchers_.For(model);
    if (!batcher.ok()) {
      FinishCall(reactor, log, batcher.status(), "");
      return;
    }
    DecodeAndSubmit(context, model, **batcher, *request, options_, response, reactor, log);
  });
  if (!queued) FinishCall(reactor, log, {StatusCode::kUnavailable, "server is shutting down"}, "");
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::Localize(grpc::CallbackServerContext* context,
                                                     const v1::LocalizeRequest* request,
                                                     v1::LocalizeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "Localize", metrics_);
  StatusOr<std::shared_ptr<const ServedModel>> model =
      repository_.Find(request->model_name(), request->model_version());
  if (!model.ok()) {
    FinishCall(reactor, log, model.status(), "");
    return reactor;
  }
  log.model = (*model)->name;
  // Like Classify: the engine work runs on the worker pool, never on gRPC's callback threads.
  const LocalizeOptions options{options_.image_limits};
  const bool queued = workers_.Submit([context, request, response, reactor, log, options, model = *model] {
    const Status status = RunLocalize(context, *model, *request, options, *response);
    FinishCall(reactor, log, status, LocalizeSummary(*response));
  });
  if (!queued) FinishCall(reactor, log, {StatusCode::kUnavailable, "server is shutting down"}, "");
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* /*request*/,
                                                       v1::ListModelsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ListModels", metrics_);
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
  CallLog log = StartCall(context, "GetModel", metrics_);
  StatusOr<std::shared_ptr<const ServedModel>> model =
      repository_.Find(request->model_name(), request->model_version());
  if (model.ok()) {
    log.model = (*model)->name;
    DescribeModel(**model, VersionsOf(*repository_.Snapshot(), (*model)->name), *response);
  }
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
