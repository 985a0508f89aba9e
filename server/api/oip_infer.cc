#include "server/api/oip_infer.h"

#include <charconv>

#include "server/api/oip_inputs.h"

namespace fovea::server {
namespace {

constexpr char kPlatform[] = "onnx";
constexpr char kFp32[] = "FP32";
constexpr char kBytes[] = "BYTES";
constexpr int64_t kAnyBatch = -1;

const std::string& OutputName(const ServedModel& model) { return model.model->graph().outputs[0].name; }

void AddTensorMetadata(const std::string& name, const engine::Shape& shape,
                       google::protobuf::RepeatedPtrField<oip::ModelMetadataResponse::TensorMetadata>& tensors) {
  oip::ModelMetadataResponse::TensorMetadata* tensor = tensors.Add();
  tensor->set_name(name);
  tensor->set_datatype(kFp32);
  for (int64_t dim : shape) tensor->add_shape(dim);
}

// The k of a "classification" parameter, checked against the model's class count.
StatusOr<int64_t> ClassificationTopK(const ServedModel& model, const std::string& output,
                                     const oip::InferParameter& parameter) {
  const std::string where = "output '" + output + "' parameter '" + kClassificationParameter + "'";
  if (parameter.parameter_choice_case() != oip::InferParameter::kInt64Param) {
    return InvalidArgument(where + " must be an int64_param (the number of classes to return)");
  }
  const int64_t k = parameter.int64_param();
  if (k < 1 || k > model.num_classes) {
    return InvalidArgument(where + " is " + std::to_string(k) + ", outside [1, " + std::to_string(model.num_classes) +
                           "] (the model has " + std::to_string(model.num_classes) + " classes)");
  }
  return k;
}

// Triton's classification string: "score:index:label", or "score:index" when the model has no labels.
std::string ClassificationEntry(const ServedModel& model, int64_t index, float probability) {
  std::string entry = std::to_string(probability);
  entry += ':';
  entry += std::to_string(index);
  if (!model.model->metadata().labels.empty()) {
    entry += ':';
    entry += model.model->Label(index);
  }
  return entry;
}

void AppendProbabilities(const ServedModel& model, std::span<const float> row, std::string& raw) {
  const std::vector<float> probabilities = ToProbabilities(row, model.outputs_probabilities);
  raw.append(reinterpret_cast<const char*>(probabilities.data()), probabilities.size() * sizeof(float));
}

void AppendClassification(const ServedModel& model, std::span<const float> row, int64_t top_k, std::string& raw) {
  for (const auto& [index, probability] : TopClasses(row, top_k, model.outputs_probabilities)) {
    AppendBytesElement(ClassificationEntry(model, index, probability), raw);
  }
}

}  // namespace

StatusOr<int64_t> ParseModelVersion(std::string_view version) {
  if (version.empty()) return int64_t{0};
  int64_t parsed = 0;
  const auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), parsed);
  if (error != std::errc() || end != version.data() + version.size() || parsed <= 0) {
    return InvalidArgument("model version '" + std::string(version) +
                           "' is not a positive integer (leave it empty for the latest version)");
  }
  return parsed;
}

StatusOr<std::shared_ptr<const ServedModel>> FindOipModel(const ModelRepository& repository, const std::string& name,
                                                          const std::string& version) {
  FOVEA_ASSIGN_OR_RETURN(const int64_t parsed, ParseModelVersion(version));
  return repository.Find(name, parsed);
}

bool CanServe(const ModelRepository& repository) { return repository.ready() && !repository.Snapshot()->empty(); }

const std::string& OipInputName(const ServedModel& model) { return model.model->graph().inputs[0].name; }

void DescribeOipModel(const ServedModel& model, const std::vector<int64_t>& versions,
                      oip::ModelMetadataResponse& response) {
  response.set_name(model.name);
  for (int64_t version : versions) response.add_versions(std::to_string(version));
  response.set_platform(kPlatform);
  AddTensorMetadata(OipInputName(model), {kAnyBatch, model.channels, model.height, model.width},
                    *response.mutable_inputs());
  AddTensorMetadata(OutputName(model), {kAnyBatch, model.num_classes}, *response.mutable_outputs());
}

StatusOr<RequestedOutput> ResolveOutput(const ServedModel& model, const oip::ModelInferRequest& request) {
  RequestedOutput resolved;
  const std::string& name = OutputName(model);
  for (int i = 0; i < request.outputs_size(); ++i) {
    const auto& output = request.outputs(i);
    if (output.name() != name) {
      return InvalidArgument("unknown output '" + output.name() + "'; model '" + model.name + "' has one output, '" +
                             name + "'");
    }
    if (i > 0) return InvalidArgument("output '" + name + "' is requested more than once");
    const auto found = output.parameters().find(kClassificationParameter);
    if (found != output.parameters().end()) {
      FOVEA_ASSIGN_OR_RETURN(resolved.classification_top_k, ClassificationTopK(model, name, found->second));
    }
  }
  return resolved;
}

void WriteInferResponse(const ServedModel& model, const oip::ModelInferRequest& request, const RequestedOutput& output,
                        std::span<const float> scores, int64_t batch, oip::ModelInferResponse& response) {
  response.set_model_name(model.name);
  response.set_model_version(std::to_string(model.version));
  response.set_id(request.id());
  const auto num_classes = static_cast<size_t>(model.num_classes);
  const bool classification = output.classification_top_k > 0;

  oip::ModelInferResponse::InferOutputTensor* tensor = response.add_outputs();
  tensor->set_name(OutputName(model));
  tensor->set_datatype(classification ? kBytes : kFp32);
  tensor->add_shape(batch);
  tensor->add_shape(classification ? output.classification_top_k : model.num_classes);
  std::string& raw = *response.add_raw_output_contents();
  for (size_t row = 0; row < static_cast<size_t>(batch); ++row) {
    const std::span<const float> row_scores = scores.subspan(row * num_classes, num_classes);
    if (classification) {
      AppendClassification(model, row_scores, output.classification_top_k, raw);
    } else {
      AppendProbabilities(model, row_scores, raw);
    }
  }
}

Status RunModelInfer(const ServedModel& model, const oip::ModelInferRequest& request, const ClassifyOptions& options,
                     oip::ModelInferResponse& response) {
  FOVEA_ASSIGN_OR_RETURN(const RequestedOutput output, ResolveOutput(model, request));
  FOVEA_ASSIGN_OR_RETURN(const engine::Tensor images, ConvertInferInput(model, request, options));
  FOVEA_ASSIGN_OR_RETURN(const engine::Tensor scores, RunClassifier(model, images));
  WriteInferResponse(model, request, output, scores.floats(), scores.dim(0), response);
  return OkStatus();
}

}  // namespace fovea::server
