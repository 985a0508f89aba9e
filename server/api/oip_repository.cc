#include "server/api/oip_repository.h"

#include <cstdio>

#include "server/api/oip_infer.h"
#include "server/models/triton_config.h"

namespace fovea::server {
namespace {

namespace oip = ::inference;

constexpr char kReady[] = "READY";

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

// The model's dims as a config.pbtxt writes them: without the batch when max_batch_size > 0.
template <typename Field>
void SetDims(const engine::Shape& shape_with_batch, bool batched, Field& dims) {
  dims.Clear();
  for (size_t i = batched ? 1 : 0; i < shape_with_batch.size(); ++i) dims.Add(shape_with_batch[i]);
}

void DescribeInput(const ServedModel& model, bool batched, oip::ModelConfig& config) {
  engine::Shape shape = model.ImageShape();
  shape.insert(shape.begin(), -1);
  oip::ModelInput& input = config.input().empty() ? *config.add_input() : *config.mutable_input(0);
  input.set_name(OipInputName(model));
  input.set_data_type(oip::TYPE_FP32);
  input.set_format(model.preprocessing.nhwc ? oip::ModelInput::FORMAT_NHWC : oip::ModelInput::FORMAT_NCHW);
  // Dims the file gives were checked against the model; where it says -1 for a size the model fixes, the served
  // size is the answer.
  SetDims(shape, batched, *input.mutable_dims());
}

// Every output the model has, the configured ones first, in the file's order.
void DescribeOutputs(const ServedModel& model, bool batched, oip::ModelConfig& config) {
  for (const ServedOutput& served : model.outputs) {
    oip::ModelOutput* output = nullptr;
    for (oip::ModelOutput& configured : *config.mutable_output()) {
      if (configured.name() == served.name) output = &configured;
    }
    if (output == nullptr) {
      output = config.add_output();
      output->set_name(served.name);
    }
    output->set_data_type(TritonDataType(served.dtype));
    SetDims(served.shape, batched, *output->mutable_dims());
  }
}

void DescribeBatching(const BatchingOptions& batching, oip::ModelConfig& config) {
  oip::ModelDynamicBatching& dynamic = *config.mutable_dynamic_batching();
  dynamic.set_max_queue_delay_microseconds(static_cast<uint64_t>(batching.max_queue_delay_us));
  dynamic.mutable_default_queue_policy()->set_max_queue_size(static_cast<uint32_t>(batching.max_queue_size));
  if (config.instance_group().empty()) {
    oip::ModelInstanceGroup& instances = *config.add_instance_group();
    instances.set_kind(oip::ModelInstanceGroup::KIND_CPU);
    instances.set_count(batching.instances);
  }
  for (oip::ModelInstanceGroup& group : *config.mutable_instance_group()) {
    if (group.count() == 0) group.set_count(1);  // Triton's default
  }
}

std::string JoinValues(const std::vector<float>& values) {
  std::string text;
  for (float value : values) {
    char number[32];
    std::snprintf(number, sizeof(number), "%g", static_cast<double>(value));
    if (!text.empty()) text += ',';
    text += number;
  }
  return text;
}

// Fovea's own settings, as the configuration set them or as the model and the flags resolved them.
void DescribeParameters(const ServedModel& model, const BatchingOptions& batching, oip::ModelConfig& config) {
  SetParameter(config, kComputeThreadsParameter, std::to_string(batching.compute_threads));
  // A model quantized by fovea-train runs int8 whatever the file asks; the file's own word is kept then.
  if (!model.model->quantized()) {
    SetParameter(config, kPrecisionParameter, engine::PrecisionName(model.model->precision()));
  } else if (config.parameters().count(kPrecisionParameter) == 0) {
    SetParameter(config, kPrecisionParameter, "int8");
  }
  SetParameter(config, kScoresParameter, ScoresName(model.score_activation));
  const engine::ModelMetadata& metadata = model.model->metadata();
  if (!metadata.mean.empty()) SetParameter(config, kMeanParameter, JoinValues(metadata.mean));
  if (!metadata.std.empty()) SetParameter(config, kStdParameter, JoinValues(metadata.std));
  if (model.channels == 3) SetParameter(config, kChannelOrderParameter, model.preprocessing.bgr ? "BGR" : "RGB");
  const bool crop = model.preprocessing.resize == ResizeMode::kCrop;
  SetParameter(config, kResizeModeParameter, crop ? "crop" : "stretch");
  if (crop) SetParameter(config, kResizeShorterSideParameter, std::to_string(model.preprocessing.shorter_side));
}

}  // namespace

void DescribeModelConfig(const ServedModel& model, const BatchingOptions& batching, oip::ModelConfig& config) {
  const ModelFolderConfig& folder = *model.folder_config;
  // What the model's configuration file says stays as written; what it leaves out is filled in from the model and the
  // server's flags, so the answer parses back (text format) into itself.
  config = folder.config;
  config.set_name(model.name);
  if (config.platform().empty()) config.set_platform(kTritonOnnxPlatform);
  if (config.backend().empty()) config.set_backend(kOnnxBackend);
  if (!folder.sets_max_batch_size) config.set_max_batch_size(static_cast<int32_t>(batching.max_batch_size));
  if (!config.has_version_policy()) *config.mutable_version_policy() = VersionPolicyMessage(model.version_policy);
  DescribeInput(model, config.max_batch_size() > 0, config);
  DescribeOutputs(model, config.max_batch_size() > 0, config);
  DescribeBatching(batching, config);
  DescribeParameters(model, batching, config);
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

StatusOr<std::string> LoadConfigParameter(const oip::RepositoryModelLoadRequest& request) {
  std::string config;
  for (const auto& [key, value] : request.parameters()) {
    const std::string refused = "failed to load '" + request.model_name() + "': load parameter '" + key + "' ";
    if (key == "config") {
      if (value.parameter_choice_case() != oip::ModelRepositoryParameter::kStringParam) {
        return InvalidArgument(refused + "must be a string holding the model configuration in JSON");
      }
      config = value.string_param();
    } else if (key.rfind("file:", 0) == 0) {
      return Status{StatusCode::kUnimplemented,
                    refused +
                        "is not implemented; fovea-server loads model files from the model's own folder in the "
                        "repository (put them there, then load it)"};
    } else {
      return InvalidArgument(refused + "is not known; Fovea takes \"config\" (a ModelConfig in JSON)");
    }
  }
  return config;
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
