#include "server/api/oip_repository.h"

#include "server/api/oip_infer.h"

namespace fovea::server {
namespace {

namespace oip = ::inference;

constexpr char kReady[] = "READY";

oip::DataType ConfigDataType(engine::DataType dtype) {
  switch (dtype) {
    case engine::DataType::kFloat32:
      return oip::TYPE_FP32;
    case engine::DataType::kInt64:
      return oip::TYPE_INT64;
    case engine::DataType::kUint8:
      return oip::TYPE_UINT8;
    case engine::DataType::kInt8:
      return oip::TYPE_INT8;
    case engine::DataType::kBool:
      return oip::TYPE_BOOL;
  }
  return oip::TYPE_INVALID;
}

const char* ScoresName(ScoreActivation activation) {
  switch (activation) {
    case ScoreActivation::kSoftmax:
      return "softmax";
    case ScoreActivation::kSigmoid:
      return "sigmoid";
    case ScoreActivation::kNone:
      return "none";
  }
  return "softmax";
}

void SetParameter(oip::ModelConfig& config, const std::string& key, const std::string& value) {
  (*config.mutable_parameters())[key].set_string_value(value);
}

void AddVersionStatistics(const ServedModel& model, Metrics& metrics, oip::ModelStatisticsResponse& response) {
  const VersionStatistics totals = metrics.ForModel(model.name, model.version).Statistics();
  oip::ModelStatistics& stats = *response.add_model_stats();
  stats.set_name(model.name);
  stats.set_version(std::to_string(model.version));
  stats.set_last_inference(totals.last_inference_ms);
  stats.set_inference_count(totals.inference_count);
  stats.set_execution_count(totals.execution_count);
  const auto copy = [](const DurationTotal& from, oip::StatisticDuration& to) {
    to.set_count(from.count);
    to.set_ns(from.ns);
  };
  oip::InferStatistics& infer = *stats.mutable_inference_stats();
  copy(totals.success, *infer.mutable_success());
  copy(totals.fail, *infer.mutable_fail());
  copy(totals.queue, *infer.mutable_queue());
  copy(totals.compute_infer, *infer.mutable_compute_infer());
}

}  // namespace

void DescribeModelConfig(const ServedModel& model, const BatchingOptions& batching, oip::ModelConfig& config) {
  config.set_name(model.name);
  config.set_platform(kTritonOnnxPlatform);
  config.set_backend("onnxruntime");
  config.set_max_batch_size(static_cast<int32_t>(batching.max_batch_size));
  oip::ModelInput& input = *config.add_input();
  input.set_name(OipInputName(model));
  input.set_data_type(oip::TYPE_FP32);
  input.set_format(oip::ModelInput::FORMAT_NCHW);
  for (int64_t dim : {model.channels, model.height, model.width}) input.add_dims(dim);
  for (const ServedOutput& served : model.outputs) {
    oip::ModelOutput& output = *config.add_output();
    output.set_name(served.name);
    output.set_data_type(ConfigDataType(served.dtype));
    // Triton's dims leave out the batch when max_batch_size > 0.
    for (size_t i = 1; i < served.shape.size(); ++i) output.add_dims(served.shape[i]);
  }
  oip::ModelDynamicBatching& dynamic = *config.mutable_dynamic_batching();
  dynamic.set_max_queue_delay_microseconds(static_cast<uint64_t>(batching.max_queue_delay_us));
  dynamic.mutable_default_queue_policy()->set_max_queue_size(static_cast<uint32_t>(batching.max_queue_size));
  oip::ModelInstanceGroup& instances = *config.add_instance_group();
  instances.set_kind(oip::ModelInstanceGroup::KIND_CPU);
  instances.set_count(batching.instances);
  SetParameter(config, "compute_threads", std::to_string(batching.compute_threads));
  SetParameter(config, "precision",
               model.model->quantized() ? "int8" : engine::PrecisionName(model.model->precision()));
  SetParameter(config, "scores", ScoresName(model.score_activation));
}

StatusOr<oip::ModelStatisticsResponse> DescribeStatistics(const ModelRepository& repository, Metrics& metrics,
                                                          const std::string& name, const std::string& version) {
  oip::ModelStatisticsResponse response;
  if (name.empty()) {
    if (!version.empty()) return InvalidArgument("a version ('" + version + "') needs a model name");
    for (const auto& [model_name, versions] : *repository.Snapshot()) {
      for (const auto& [number, model] : versions) AddVersionStatistics(*model, metrics, response);
    }
    return response;
  }
  if (!version.empty()) {
    FOVEA_ASSIGN_OR_RETURN(const std::shared_ptr<const ServedModel> model, FindOipModel(repository, name, version));
    AddVersionStatistics(*model, metrics, response);
    return response;
  }
  // Every loaded version of the model, from one snapshot (a reload may swap the catalog meanwhile).
  const std::shared_ptr<const ModelCatalog> catalog = repository.Snapshot();
  const auto found = catalog->find(name);
  if (found == catalog->end()) {
    // Find says what is wrong with the name and what exists.
    const Status status = repository.Find(name, 0).status();
    return status.ok() ? NotFound("model '" + name + "' not found") : status;
  }
  for (const auto& [number, model] : found->second) AddVersionStatistics(*model, metrics, response);
  return response;
}

Status CheckRepositoryName(const std::string& repository_name) {
  if (repository_name.empty()) return OkStatus();
  return NotFound("unknown repository '" + repository_name +
                  "': fovea-server has one model repository; leave repository_name empty");
}

Status CheckLoadParameters(const oip::RepositoryModelLoadRequest& request) {
  if (request.parameters().empty()) return OkStatus();
  const std::string& key = request.parameters().begin()->first;
  return {StatusCode::kUnimplemented,
          "failed to load '" + request.model_name() + "': load parameter '" + key +
              "' is not implemented; fovea-server loads a model from its own folder in the repository (put the "
              "configuration and files there, then load it)"};
}

void DescribeRepositoryIndex(const std::vector<IndexEntry>& index, bool ready_only,
                             oip::RepositoryIndexResponse& response) {
  for (const IndexEntry& row : index) {
    if (ready_only && row.state != kReady) continue;
    oip::RepositoryIndexResponse::ModelIndex& entry = *response.add_models();
    entry.set_name(row.name);
    if (row.version > 0) entry.set_version(std::to_string(row.version));
    entry.set_state(row.state);
    entry.set_reason(row.reason);
  }
}

}  // namespace fovea::server
