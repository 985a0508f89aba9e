#include "server/transport/grpc/inference_service.h"

#include <chrono>
#include <exception>

#include <spdlog/spdlog.h>

#include "server/pipeline/admission.h"
#include "server/pipeline/call_log.h"
#include "server/pipeline/request_pipeline.h"

namespace fovea::server {
namespace {

std::string ClassifySummary(const v1::ClassifyResponse& response) {
  int failed = 0;
  for (const v1::ImageResult& result : response.results()) failed += result.has_error() ? 1 : 0;
  return "model=" + response.model_name() + ":" + std::to_string(response.model_version()) +
         " images=" + std::to_string(response.results_size()) + " failed=" + std::to_string(failed);
}

// fovea.v1's part of the request pipeline: decoding the request's images (each bad image answered with its own error,
// the good ones batched) and filling the predictions from the scores.
PrepareFunction PrepareClassifyCall(std::shared_ptr<const ServedModel> model, const v1::ClassifyRequest& request,
                                    const ClassifyOptions& options, v1::ClassifyResponse& response) {
  return [model = std::move(model), &request, options, &response]() -> StatusOr<PreparedRequest> {
    FOVEA_ASSIGN_OR_RETURN(PreparedClassify decoded, PrepareClassify(*model, request, options, response));
    PreparedRequest prepared;
    if (decoded.good_images.empty()) return prepared;  // every image failed: the response is complete
    auto shared = std::make_shared<PreparedClassify>(std::move(decoded));
    prepared.images = shared->images;
    prepared.answer = [model, shared, &response](const BatchRows& outputs) {
      return FillPredictions(*model, *shared, outputs.floats(0), response);
    };
    return prepared;
  };
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

InferenceService::InferenceService(ServingContext serving) : serving_(std::move(serving)) {}

grpc::ServerUnaryReactor* InferenceService::Classify(grpc::CallbackServerContext* context,
                                                     const v1::ClassifyRequest* request,
                                                     v1::ClassifyResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "Classify", serving_.metrics);
  const std::shared_ptr<const ServedModel> model =
      AdmitUnary(reactor, log, serving_.repository.Find(request->model_name(), request->model_version()));
  if (model == nullptr) return reactor;
  spdlog::debug("[{}] Classify started: model={} images={}", log.request_id, request->model_name(),
                request->images_size());
  SubmitToPipeline(serving_, model, /*cheap=*/false, PrepareClassifyCall(model, *request, serving_.options, *response),
                   UnaryCallHooks(context, reactor, log, [response] { return ClassifySummary(*response); }));
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::Localize(grpc::CallbackServerContext* context,
                                                     const v1::LocalizeRequest* request,
                                                     v1::LocalizeResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  CallLog log = StartCall(context, "Localize", serving_.metrics);
  const std::shared_ptr<const ServedModel> model =
      AdmitUnary(reactor, log, serving_.repository.Find(request->model_name(), request->model_version()));
  if (model == nullptr) return reactor;
  // Like Classify: the engine work runs on the worker pool, never on gRPC's callback threads.
  const LocalizeOptions options = LocalizeOptionsFor(serving_.options);
  RunOnWorkers(
      serving_.workers,
      [context, request, response, reactor, log, options, model] {
        const Status status = RunLocalize(context, *model, *request, options, *response);
        FinishCall(reactor, log, status, LocalizeSummary(*response));
      },
      [reactor, &log](const Status& refused) { FinishCall(reactor, log, refused, ""); });
  return reactor;
}

grpc::ServerUnaryReactor* InferenceService::ListModels(grpc::CallbackServerContext* context,
                                                       const v1::ListModelsRequest* /*request*/,
                                                       v1::ListModelsResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const CallLog log = StartCall(context, "ListModels", serving_.metrics);
  const std::shared_ptr<const ModelCatalog> catalog = serving_.repository.Snapshot();
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
  CallLog log = StartCall(context, "GetModel", serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model =
      Admit(serving_.repository.Find(request->model_name(), request->model_version()), log);
  if (model.ok()) {
    DescribeModel(**model, VersionsOf(*serving_.repository.Snapshot(), (*model)->name),
                  serving_.options.max_dense_pixels, *response);
  }
  FinishCall(reactor, log, model.status(), "model=" + request->model_name());
  return reactor;
}

namespace {

// The model's dense geometry, when it has dense maps (a classifier whose head becomes convolutions exactly).
void DescribeDenseGeometry(const ServedModel& model, int64_t max_dense_pixels, v1::GetModelResponse& response) {
  if (model.localizer == nullptr) return;
  const auto mapper = model.localizer->Dense();
  if (!mapper.ok()) return;
  const engine::localization::DenseContext& context = (*mapper)->context();
  v1::DenseGeometry* dense = response.mutable_dense();
  dense->set_window_width(static_cast<int32_t>((*mapper)->window_width()));
  dense->set_window_height(static_cast<int32_t>((*mapper)->window_height()));
  dense->set_natural_stride(static_cast<int32_t>((*mapper)->natural_stride()));
  dense->set_context_left(static_cast<int32_t>(context.left));
  dense->set_context_top(static_cast<int32_t>(context.top));
  dense->set_context_right(static_cast<int32_t>(context.right));
  dense->set_context_bottom(static_cast<int32_t>(context.bottom));
  dense->set_max_image_pixels(max_dense_pixels);
}

}  // namespace

void DescribeModel(const ServedModel& model, const std::vector<int64_t>& versions, int64_t max_dense_pixels,
                   v1::GetModelResponse& response) {
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
  DescribeDenseGeometry(model, max_dense_pixels, response);
}

}  // namespace fovea::server
