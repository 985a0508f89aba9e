#include "server/api/oip_infer.h"

#include <charconv>

#include "server/api/oip_inputs.h"

namespace fovea::server {
namespace {

constexpr char kPlatform[] = "onnx";
constexpr char kFp32[] = "FP32";
constexpr char kBytes[] = "BYTES";
constexpr int64_t kAnyBatch = -1;

void AddTensorMetadata(const std::string& name, const char* datatype, const engine::Shape& shape,
                       google::protobuf::RepeatedPtrField<oip::ModelMetadataResponse::TensorMetadata>& tensors) {
  oip::ModelMetadataResponse::TensorMetadata* tensor = tensors.Add();
  tensor->set_name(name);
  tensor->set_datatype(datatype);
  for (int64_t dim : shape) tensor->add_shape(dim);
}

// The k of a "classification" parameter: at least 1, clamped to the output's class count as Triton does.
StatusOr<int64_t> ClassificationTopK(const ServedOutput& output, const oip::InferParameter& parameter) {
  const std::string where = "output '" + output.name + "' parameter '" + kClassificationParameter + "'";
  if (parameter.parameter_choice_case() != oip::InferParameter::kInt64Param) {
    return InvalidArgument(where + " must be an int64_param (the number of classes to return)");
  }
  const int64_t classes = ClassCount(output);
  if (classes < 1) {
    return InvalidArgument(where + ": classification ranks an FP32 [N, K] or [N, K, 1, 1] output, and '" + output.name +
                           "' is " + OipDatatype(output.dtype) + " " + engine::ShapeToString(output.shape));
  }
  const int64_t k = parameter.int64_param();
  if (k < 1) return InvalidArgument(where + " is " + std::to_string(k) + "; ask for at least 1 class");
  return std::min(k, classes);
}

// The index of the output named `name`, or INVALID_ARGUMENT listing the model's outputs.
StatusOr<size_t> OutputIndex(const ServedModel& model, const std::string& name) {
  std::string names;
  for (size_t i = 0; i < model.outputs.size(); ++i) {
    if (model.outputs[i].name == name) return i;
    names += (names.empty() ? "'" : ", '") + model.outputs[i].name + "'";
  }
  return InvalidArgument("unknown output '" + name + "'; model '" + model.name + "' has " + names);
}

// Triton's classification string: "value:index:label", or "value:index" when the output has no labels.
std::string ClassificationEntry(const ServedModel& model, int64_t index, float value) {
  std::string entry = std::to_string(value);
  entry += ':';
  entry += std::to_string(index);
  if (!model.model->metadata().labels.empty()) {
    entry += ':';
    entry += model.model->Label(index);
  }
  return entry;
}

// The top k entries of each row of `scores`, by raw value.
void AppendClassification(const ServedModel& model, std::span<const float> scores, int64_t rows, int64_t top_k,
                          std::string& raw) {
  const size_t classes = scores.size() / static_cast<size_t>(rows);
  for (size_t row = 0; row < static_cast<size_t>(rows); ++row) {
    for (const auto& [index, value] : TopValues(scores.subspan(row * classes, classes), top_k)) {
      AppendBytesElement(ClassificationEntry(model, index, value), raw);
    }
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

const char* OipDatatype(engine::DataType dtype) {
  switch (dtype) {
    case engine::DataType::kFloat32:
      return kFp32;
    case engine::DataType::kInt64:
      return "INT64";
    case engine::DataType::kUint8:
      return "UINT8";
    case engine::DataType::kInt8:
      return "INT8";
    case engine::DataType::kBool:
      return "BOOL";
  }
  return "UNKNOWN";
}

void DescribeOipModel(const ServedModel& model, const std::vector<int64_t>& versions,
                      oip::ModelMetadataResponse& response) {
  response.set_name(model.name);
  for (int64_t version : versions) response.add_versions(std::to_string(version));
  response.set_platform(kPlatform);
  engine::Shape input_shape = model.ImageShape();
  input_shape.insert(input_shape.begin(), kAnyBatch);
  AddTensorMetadata(OipInputName(model), kFp32, input_shape, *response.mutable_inputs());
  for (const ServedOutput& output : model.outputs) {
    AddTensorMetadata(output.name, OipDatatype(output.dtype), output.shape, *response.mutable_outputs());
  }
}

StatusOr<std::vector<RequestedOutput>> ResolveOutputs(const ServedModel& model, const oip::ModelInferRequest& request) {
  std::vector<RequestedOutput> resolved;
  if (request.outputs().empty()) {
    for (size_t i = 0; i < model.outputs.size(); ++i) resolved.push_back({i, 0});
    return resolved;
  }
  for (const auto& output : request.outputs()) {
    FOVEA_ASSIGN_OR_RETURN(const size_t index, OutputIndex(model, output.name()));
    for (const RequestedOutput& earlier : resolved) {
      if (earlier.index == index) return InvalidArgument("output '" + output.name() + "' is requested more than once");
    }
    RequestedOutput requested{index, 0};
    const auto found = output.parameters().find(kClassificationParameter);
    if (found != output.parameters().end()) {
      FOVEA_ASSIGN_OR_RETURN(requested.classification_top_k, ClassificationTopK(model.outputs[index], found->second));
    }
    resolved.push_back(requested);
  }
  return resolved;
}

void WriteInferResponse(const ServedModel& model, const oip::ModelInferRequest& request,
                        std::span<const RequestedOutput> outputs, const BatchRows& rows,
                        oip::ModelInferResponse& response) {
  response.set_model_name(model.name);
  response.set_model_version(std::to_string(model.version));
  response.set_id(request.id());
  for (const RequestedOutput& output : outputs) {
    oip::ModelInferResponse::InferOutputTensor* tensor = response.add_outputs();
    tensor->set_name(model.outputs[output.index].name);
    std::string& raw = *response.add_raw_output_contents();
    if (output.classification_top_k > 0) {
      tensor->set_datatype(kBytes);
      tensor->add_shape(rows.count());
      tensor->add_shape(output.classification_top_k);
      AppendClassification(model, rows.floats(output.index), rows.count(), output.classification_top_k, raw);
      continue;
    }
    tensor->set_datatype(OipDatatype(rows.dtype(output.index)));
    for (int64_t dim : rows.shape(output.index)) tensor->add_shape(dim);
    const std::span<const std::byte> bytes = rows.bytes(output.index);
    raw.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
}

Status RunModelInfer(const ServedModel& model, const oip::ModelInferRequest& request, const ClassifyOptions& options,
                     oip::ModelInferResponse& response) {
  FOVEA_ASSIGN_OR_RETURN(const std::vector<RequestedOutput> outputs, ResolveOutputs(model, request));
  FOVEA_ASSIGN_OR_RETURN(const engine::Tensor images, ConvertInferInput(model, request, options));
  FOVEA_ASSIGN_OR_RETURN(const std::vector<engine::Tensor> computed, RunServedModel(model, images));
  WriteInferResponse(model, request, outputs, BatchRows(computed, 0, images.dim(0)), response);
  return OkStatus();
}

}  // namespace fovea::server
