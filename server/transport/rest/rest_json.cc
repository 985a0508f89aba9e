#include "server/transport/rest/rest_json.h"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace fovea::server {
namespace {

namespace oip = ::inference;

// Keys keep the order written here, the protocol documentation's order, which reads better than sorted.
using Json = nlohmann::ordered_json;

constexpr char kFp32[] = "FP32";
constexpr char kUint8[] = "UINT8";
constexpr char kBytes[] = "BYTES";
constexpr char kBase64Key[] = "b64";
// The binary tensor data extension's parameters, consumed here rather than passed on to the protobuf request.
constexpr char kBinaryDataSize[] = "binary_data_size";
constexpr char kBinaryData[] = "binary_data";
constexpr char kBinaryDataOutput[] = "binary_data_output";
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

StatusOr<bool> BoolParameter(const Json& value, const std::string& path) {
  if (!value.is_boolean()) return FieldError(path, "must be true or false");
  return value.get<bool>();
}

// A byte count: a JSON integer in [0, INT64_MAX] (an unsigned one above it would wrap).
StatusOr<int64_t> ByteCountParameter(const Json& value, const std::string& path) {
  const bool fits = value.is_number_unsigned() ? value.get<uint64_t>() <= uint64_t{INT64_MAX}
                                               : value.is_number_integer() && value.get<int64_t>() >= 0;
  if (!fits) return FieldError(path, "must be an integer byte count in [0, 2^63 - 1]");
  return value.get<int64_t>();
}

// Copies the "parameters" object at `path` into `parameters`, except the keys `consume` takes (it returns true for
// those it handled).
template <typename Consume>
Status ParseParameters(const Json& owner, const std::string& path,
                       google::protobuf::Map<std::string, oip::InferParameter>& parameters, Consume consume) {
  FOVEA_ASSIGN_OR_RETURN(const Json* object, Member(owner, "parameters", path, false));
  if (object == nullptr) return OkStatus();
  if (!object->is_object()) return FieldError(path + ".parameters", "must be an object");
  for (const auto& [key, value] : object->items()) {
    const std::string where = path + ".parameters." + key;
    FOVEA_ASSIGN_OR_RETURN(const bool consumed, consume(key, value, where));
    if (consumed) continue;
    FOVEA_ASSIGN_OR_RETURN(parameters[key], ParseParameter(value, where));
  }
  return OkStatus();
}

Status ParseInput(const Json& input, const std::string& path, InferRequestJson& parsed) {
  if (!input.is_object()) return FieldError(path, "must be an object");
  oip::ModelInferRequest::InferInputTensor& tensor = *parsed.request.add_inputs();
  FOVEA_ASSIGN_OR_RETURN(*tensor.mutable_name(), StringMember(input, "name", path, true));
  FOVEA_ASSIGN_OR_RETURN(*tensor.mutable_datatype(), StringMember(input, "datatype", path, true));
  FOVEA_ASSIGN_OR_RETURN(const Json* shape, Member(input, "shape", path, true));
  if (!shape->is_array()) return FieldError(path + ".shape", "must be an array of integers");
  for (const Json& dim : *shape) {
    if (!dim.is_number_integer()) return FieldError(path + ".shape", "must be an array of integers");
    tensor.add_shape(dim.get<int64_t>());
  }
  std::optional<int64_t>& binary_size = parsed.binary_data_sizes.emplace_back();
  FOVEA_RETURN_IF_ERROR(
      ParseParameters(input, path, *tensor.mutable_parameters(),
                      [&](const std::string& key, const Json& value, const std::string& where) -> StatusOr<bool> {
                        if (key != kBinaryDataSize) return false;
                        FOVEA_ASSIGN_OR_RETURN(binary_size, ByteCountParameter(value, where));
                        return true;
                      }));
  if (binary_size.has_value()) {
    if (input.contains("data")) {
      return FieldError(path, "has both \"data\" and parameters.binary_data_size; its data is one or the other");
    }
    return OkStatus();
  }
  FOVEA_ASSIGN_OR_RETURN(const Json* data, Member(input, "data", path, true));
  return FillContents(*data, path + ".data", tensor);
}

Status ParseOutput(const Json& output, const std::string& path, InferRequestJson& parsed) {
  if (!output.is_object()) return FieldError(path, "must be an object");
  oip::ModelInferRequest::InferRequestedOutputTensor& tensor = *parsed.request.add_outputs();
  FOVEA_ASSIGN_OR_RETURN(*tensor.mutable_name(), StringMember(output, "name", path, true));
  return ParseParameters(
      output, path, *tensor.mutable_parameters(),
      [&](const std::string& key, const Json& value, const std::string& where) -> StatusOr<bool> {
        if (key != kBinaryData) return false;
        FOVEA_ASSIGN_OR_RETURN(const bool binary, BoolParameter(value, where));
        (binary ? parsed.binary_outputs.binary : parsed.binary_outputs.not_binary).insert(tensor.name());
        return true;
      });
}

Status ParseArray(const Json& body, const char* key, bool required, InferRequestJson& parsed,
                  Status (*parse)(const Json&, const std::string&, InferRequestJson&)) {
  FOVEA_ASSIGN_OR_RETURN(const Json* array, Member(body, key, "request", required));
  if (array == nullptr) return OkStatus();
  if (!array->is_array()) return FieldError(std::string("request.") + key, "must be an array");
  for (size_t i = 0; i < array->size(); ++i) {
    FOVEA_RETURN_IF_ERROR(parse((*array)[i], std::string(key) + "[" + std::to_string(i) + "]", parsed));
  }
  return OkStatus();
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
    case v1::LOCALIZATION_METHOD_SEGMENTATION:
      return "segmentation";
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
  if (!heatmap.values_png().empty()) {
    json["values_png"] = common::Base64Encode(heatmap.values_png());
    json["value_min"] = heatmap.value_min();
    json["value_max"] = heatmap.value_max();
  }
  return json;
}

}  // namespace

bool BinaryOutputChoice::IsBinary(const std::string& output) const {
  if (binary.contains(output)) return true;
  return all && !not_binary.contains(output);
}

StatusOr<InferRequestJson> ParseInferRequestJson(std::string_view body, const std::string& name,
                                                 const std::string& version) {
  // nlohmann's parser ends the text at a NUL byte, so JSON followed by binary data starting with one would pass.
  if (const size_t nul = body.find('\0'); nul != std::string_view::npos) {
    return InvalidArgument("request body is not valid JSON: it holds a NUL byte at offset " + std::to_string(nul));
  }
  Json json;
  try {
    json = Json::parse(body);
  } catch (const Json::exception& error) {
    // Not only parse_error: a number too large for a double ("1e999") is an out_of_range.
    return InvalidArgument(std::string("request body is not valid JSON: ") + error.what());
  }
  if (!json.is_object()) return InvalidArgument("request body must be a JSON object with \"inputs\"");
  InferRequestJson parsed;
  oip::ModelInferRequest& request = parsed.request;
  request.set_model_name(name);
  request.set_model_version(version);
  FOVEA_ASSIGN_OR_RETURN(*request.mutable_id(), StringMember(json, "id", "request", false));
  FOVEA_RETURN_IF_ERROR(
      ParseParameters(json, "request", *request.mutable_parameters(),
                      [&](const std::string& key, const Json& value, const std::string& where) -> StatusOr<bool> {
                        if (key != kBinaryDataOutput) return false;
                        FOVEA_ASSIGN_OR_RETURN(parsed.binary_outputs.all, BoolParameter(value, where));
                        return true;
                      }));
  FOVEA_RETURN_IF_ERROR(ParseArray(json, "inputs", true, parsed, ParseInput));
  FOVEA_RETURN_IF_ERROR(ParseArray(json, "outputs", false, parsed, ParseOutput));
  return parsed;
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
  if (text == "segmentation") return v1::LOCALIZATION_METHOD_SEGMENTATION;
  return InvalidArgument("method '" + std::string(text) + "' is not one of auto, cam, grad-cam, dense, segmentation");
}

std::string ErrorJson(std::string_view message) { return Dump(Json{{"error", std::string(message)}}); }

}  // namespace fovea::server
