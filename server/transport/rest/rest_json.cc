#include "server/transport/rest/rest_json.h"

#include <cstring>

#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "server/api/oip_infer.h"
#include "server/api/oip_inputs.h"

namespace fovea::server {
namespace {

// Keys keep the order written here, the protocol documentation's order, which reads better than sorted.
using Json = nlohmann::ordered_json;

constexpr char kFp32[] = "FP32";
constexpr char kUint8[] = "UINT8";
constexpr char kBytes[] = "BYTES";
constexpr char kBase64Key[] = "b64";
// Tensors have at most 4 dimensions here; deeper nesting in "data" is a malformed request, not a bigger tensor.
constexpr int kMaxDataNesting = 8;

// Labels and messages may hold bytes that are not UTF-8 (a model file's metadata, a name from a URL); they are
// replaced rather than failing the whole answer.
std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

Status FieldError(const std::string& path, const std::string& problem) { return InvalidArgument(path + " " + problem); }

StatusOr<const Json*> Member(const Json& object, const std::string& key, const std::string& path, bool required) {
  const auto found = object.find(key);
  if (found == object.end()) {
    if (required) return FieldError(path + "." + key, "is missing");
    return static_cast<const Json*>(nullptr);
  }
  return &*found;
}

StatusOr<std::string> StringMember(const Json& object, const std::string& key, const std::string& path, bool required) {
  FOVEA_ASSIGN_OR_RETURN(const Json* value, Member(object, key, path, required));
  if (value == nullptr) return std::string();
  if (!value->is_string()) return FieldError(path + "." + key, "must be a string");
  return value->get<std::string>();
}

// Appends the leaves of `data` (a value or nested arrays of them) in row-major order.
Status Flatten(const Json& data, int depth, const std::string& path, std::vector<const Json*>& leaves) {
  if (!data.is_array()) {
    leaves.push_back(&data);
    return OkStatus();
  }
  if (depth >= kMaxDataNesting) return FieldError(path, "nests arrays deeper than " + std::to_string(kMaxDataNesting));
  for (const Json& element : data) FOVEA_RETURN_IF_ERROR(Flatten(element, depth + 1, path, leaves));
  return OkStatus();
}

StatusOr<std::string> BytesElement(const Json& element, const std::string& where) {
  if (element.is_string()) return element.get<std::string>();
  if (element.is_object() && element.size() == 1 && element.contains(kBase64Key) && element[kBase64Key].is_string()) {
    std::optional<std::string> decoded = common::Base64Decode(element[kBase64Key].get<std::string>());
    if (!decoded) return FieldError(where, "is not valid base64 (standard alphabet, '=' padding, no whitespace)");
    return std::move(*decoded);
  }
  return FieldError(where, "must be a string or {\"b64\": \"<base64>\"} (a BYTES element)");
}

// Fills the typed contents field of `tensor` from its JSON "data", per its datatype. An unsupported datatype leaves
// the contents empty: ConvertInferInput names the datatypes it takes.
Status FillContents(const Json& data, const std::string& path, oip::ModelInferRequest::InferInputTensor& tensor) {
  std::vector<const Json*> leaves;
  FOVEA_RETURN_IF_ERROR(Flatten(data, 0, path, leaves));
  oip::InferTensorContents& contents = *tensor.mutable_contents();
  for (size_t i = 0; i < leaves.size(); ++i) {
    const Json& leaf = *leaves[i];
    const std::string where = path + " element " + std::to_string(i);
    if (tensor.datatype() == kFp32) {
      if (!leaf.is_number()) return FieldError(where, "must be a number (datatype FP32)");
      contents.add_fp32_contents(leaf.get<float>());
    } else if (tensor.datatype() == kUint8) {
      // Values over 255 reach ConvertInferInput, which names them; here only what cannot be a uint32 at all.
      if (!leaf.is_number_unsigned() || leaf.get<uint64_t>() > UINT32_MAX) {
        return FieldError(where, "must be an integer in [0, 255] (datatype UINT8)");
      }
      contents.add_uint_contents(leaf.get<uint32_t>());
    } else if (tensor.datatype() == kBytes) {
      FOVEA_ASSIGN_OR_RETURN(std::string bytes, BytesElement(leaf, where));
      contents.add_bytes_contents(std::move(bytes));
    }
  }
  return OkStatus();
}

Status ParseInput(const Json& input, const std::string& path, oip::ModelInferRequest& request) {
  if (!input.is_object()) return FieldError(path, "must be an object");
  oip::ModelInferRequest::InferInputTensor& tensor = *request.add_inputs();
  FOVEA_ASSIGN_OR_RETURN(*tensor.mutable_name(), StringMember(input, "name", path, true));
  FOVEA_ASSIGN_OR_RETURN(*tensor.mutable_datatype(), StringMember(input, "datatype", path, true));
  FOVEA_ASSIGN_OR_RETURN(const Json* shape, Member(input, "shape", path, true));
  if (!shape->is_array()) return FieldError(path + ".shape", "must be an array of integers");
  for (const Json& dim : *shape) {
    if (!dim.is_number_integer()) return FieldError(path + ".shape", "must be an array of integers");
    tensor.add_shape(dim.get<int64_t>());
  }
  if (input.contains("parameters") && input["parameters"].contains("binary_data_size")) {
    return FieldError(path + ".parameters.binary_data_size",
                      "is not supported (no binary tensor data extension); put the data in \"data\", or POST an "
                      "encoded image as the whole body with Content-Type image/png or image/jpeg");
  }
  FOVEA_ASSIGN_OR_RETURN(const Json* data, Member(input, "data", path, true));
  return FillContents(*data, path + ".data", tensor);
}

StatusOr<oip::InferParameter> ParseParameter(const Json& value, const std::string& path) {
  oip::InferParameter parameter;
  if (value.is_boolean()) {
    parameter.set_bool_param(value.get<bool>());
  } else if (value.is_number_integer()) {
    parameter.set_int64_param(value.get<int64_t>());
  } else if (value.is_string()) {
    parameter.set_string_param(value.get<std::string>());
  } else {
    return FieldError(path, "must be a boolean, an integer or a string");
  }
  return parameter;
}

Status ParseOutput(const Json& output, const std::string& path, oip::ModelInferRequest& request) {
  if (!output.is_object()) return FieldError(path, "must be an object");
  oip::ModelInferRequest::InferRequestedOutputTensor& tensor = *request.add_outputs();
  FOVEA_ASSIGN_OR_RETURN(*tensor.mutable_name(), StringMember(output, "name", path, true));
  FOVEA_ASSIGN_OR_RETURN(const Json* parameters, Member(output, "parameters", path, false));
  if (parameters == nullptr) return OkStatus();
  if (!parameters->is_object()) return FieldError(path + ".parameters", "must be an object");
  for (const auto& [key, value] : parameters->items()) {
    FOVEA_ASSIGN_OR_RETURN((*tensor.mutable_parameters())[key], ParseParameter(value, path + ".parameters." + key));
  }
  return OkStatus();
}

Status ParseArray(const Json& body, const char* key, bool required, oip::ModelInferRequest& request,
                  Status (*parse)(const Json&, const std::string&, oip::ModelInferRequest&)) {
  FOVEA_ASSIGN_OR_RETURN(const Json* array, Member(body, key, "request", required));
  if (array == nullptr) return OkStatus();
  if (!array->is_array()) return FieldError(std::string("request.") + key, "must be an array");
  for (size_t i = 0; i < array->size(); ++i) {
    FOVEA_RETURN_IF_ERROR(parse((*array)[i], std::string(key) + "[" + std::to_string(i) + "]", request));
  }
  return OkStatus();
}

int64_t ElementCount(const google::protobuf::RepeatedField<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

Json OutputData(const oip::ModelInferResponse::InferOutputTensor& output, const std::string& raw) {
  Json data = Json::array();
  if (output.datatype() == kFp32) {
    std::vector<float> values(raw.size() / sizeof(float));
    std::memcpy(values.data(), raw.data(), values.size() * sizeof(float));
    for (float value : values) data.push_back(value);
  } else if (output.datatype() == kBytes) {
    // The server wrote these elements itself, so they split cleanly.
    StatusOr<std::vector<std::string_view>> elements = SplitBytesElements(raw, ElementCount(output.shape()));
    if (elements.ok()) {
      for (std::string_view element : *elements) data.push_back(std::string(element));
    }
  }
  return data;
}

Json TensorMetadataJson(const google::protobuf::RepeatedPtrField<oip::ModelMetadataResponse::TensorMetadata>& all) {
  Json tensors = Json::array();
  for (const auto& tensor : all) {
    tensors.push_back({{"name", tensor.name()},
                       {"datatype", tensor.datatype()},
                       {"shape", std::vector<int64_t>(tensor.shape().begin(), tensor.shape().end())}});
  }
  return tensors;
}

const char* MethodName(v1::LocalizationMethod method) {
  switch (method) {
    case v1::LOCALIZATION_METHOD_CAM:
      return "cam";
    case v1::LOCALIZATION_METHOD_GRAD_CAM:
      return "grad-cam";
    case v1::LOCALIZATION_METHOD_DENSE:
      return "dense";
    default:
      return "auto";
  }
}

Json HeatmapJson(const v1::Heatmap& heatmap) {
  Json json = {{"class_index", heatmap.class_index()},
               {"label", heatmap.label()},
               {"width", heatmap.width()},
               {"height", heatmap.height()},
               {"values", std::vector<float>(heatmap.values().begin(), heatmap.values().end())},
               {"stride_x", heatmap.stride_x()},
               {"stride_y", heatmap.stride_y()},
               {"offset_x", heatmap.offset_x()},
               {"offset_y", heatmap.offset_y()},
               {"window_width", heatmap.window_width()},
               {"window_height", heatmap.window_height()}};
  if (!heatmap.overlay_png().empty()) json["overlay_png"] = common::Base64Encode(heatmap.overlay_png());
  return json;
}

}  // namespace

StatusOr<oip::ModelInferRequest> ParseInferRequestJson(std::string_view body, const std::string& name,
                                                       const std::string& version) {
  Json json;
  try {
    json = Json::parse(body);
  } catch (const Json::parse_error& error) {
    return InvalidArgument(std::string("request body is not valid JSON: ") + error.what());
  }
  if (!json.is_object()) return InvalidArgument("request body must be a JSON object with \"inputs\"");
  oip::ModelInferRequest request;
  request.set_model_name(name);
  request.set_model_version(version);
  FOVEA_ASSIGN_OR_RETURN(*request.mutable_id(), StringMember(json, "id", "request", false));
  FOVEA_RETURN_IF_ERROR(ParseArray(json, "inputs", true, request, ParseInput));
  FOVEA_RETURN_IF_ERROR(ParseArray(json, "outputs", false, request, ParseOutput));
  return request;
}

std::string InferResponseJson(const oip::ModelInferResponse& response) {
  Json outputs = Json::array();
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& output = response.outputs(i);
    const std::string& raw = i < response.raw_output_contents_size() ? response.raw_output_contents(i) : "";
    outputs.push_back({{"name", output.name()},
                       {"datatype", output.datatype()},
                       {"shape", std::vector<int64_t>(output.shape().begin(), output.shape().end())},
                       {"data", OutputData(output, raw)}});
  }
  Json json = {{"model_name", response.model_name()}, {"model_version", response.model_version()}};
  if (!response.id().empty()) json["id"] = response.id();
  json["outputs"] = std::move(outputs);
  return Dump(json);
}

std::string ModelMetadataJson(const oip::ModelMetadataResponse& response) {
  return Dump(Json{{"name", response.name()},
                   {"versions", std::vector<std::string>(response.versions().begin(), response.versions().end())},
                   {"platform", response.platform()},
                   {"inputs", TensorMetadataJson(response.inputs())},
                   {"outputs", TensorMetadataJson(response.outputs())}});
}

std::string ServerMetadataJson(const oip::ServerMetadataResponse& response) {
  return Dump(
      Json{{"name", response.name()},
           {"version", response.version()},
           {"extensions", std::vector<std::string>(response.extensions().begin(), response.extensions().end())}});
}

std::string LocalizeResponseJson(const v1::LocalizeResponse& response) {
  Json predictions = Json::array();
  for (const v1::Prediction& p : response.predictions()) {
    predictions.push_back({{"class_index", p.class_index()}, {"label", p.label()}, {"probability", p.probability()}});
  }
  Json detections = Json::array();
  for (const v1::Detection& d : response.detections()) {
    detections.push_back({{"class_index", d.class_index()},
                          {"label", d.label()},
                          {"score", d.score()},
                          {"box",
                           {{"x_min", d.box().x_min()},
                            {"y_min", d.box().y_min()},
                            {"x_max", d.box().x_max()},
                            {"y_max", d.box().y_max()}}}});
  }
  Json heatmaps = Json::array();
  for (const v1::Heatmap& heatmap : response.heatmaps()) heatmaps.push_back(HeatmapJson(heatmap));
  return Dump(Json{{"model_name", response.model_name()},
                   {"model_version", std::to_string(response.model_version())},
                   {"method", MethodName(response.method())},
                   {"image_width", response.image_width()},
                   {"image_height", response.image_height()},
                   {"predictions", std::move(predictions)},
                   {"detections", std::move(detections)},
                   {"heatmaps", std::move(heatmaps)}});
}

StatusOr<v1::LocalizationMethod> ParseLocalizationMethod(std::string_view text) {
  if (text.empty() || text == "auto") return v1::LOCALIZATION_METHOD_UNSPECIFIED;
  if (text == "cam") return v1::LOCALIZATION_METHOD_CAM;
  if (text == "grad-cam" || text == "gradcam") return v1::LOCALIZATION_METHOD_GRAD_CAM;
  if (text == "dense") return v1::LOCALIZATION_METHOD_DENSE;
  return InvalidArgument("method '" + std::string(text) + "' is not one of auto, cam, grad-cam, dense");
}

std::string ErrorJson(std::string_view message) { return Dump(Json{{"error", std::string(message)}}); }

}  // namespace fovea::server
