#include "server/transport/rest/rest_infer_body.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <sstream>

#include <nlohmann/json.hpp>

namespace fovea::server {
namespace {

namespace oip = ::inference;
using Json = nlohmann::ordered_json;

// The protocol's binary data is little-endian; so is every host Fovea builds for, so bytes copy straight over.
static_assert(std::endian::native == std::endian::little, "binary tensor data is copied as is: little-endian only");

constexpr char kHeaderName[] = "Inference-Header-Content-Length";
constexpr size_t kMaxEchoedChars = 40;
constexpr uint32_t kMaxUint8 = 255;
constexpr size_t kBytesLengthPrefix = sizeof(uint32_t);
constexpr unsigned char kFirstPrintable = 0x20;  // ASCII control characters lie below

// Labels and BYTES outputs may hold bytes that are not UTF-8; they are replaced rather than failing the answer.
std::string Dump(const Json& json) { return json.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string InputName(const oip::ModelInferRequest& request, int index) {
  return "inputs[" + std::to_string(index) + "] ('" + request.inputs(index).name() + "')";
}

// The header's value as a byte count within the body.
StatusOr<size_t> ParseJsonLength(std::string_view text, size_t body_size) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  size_t length = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    const std::string echoed(text.substr(0, kMaxEchoedChars));
    return InvalidArgument(std::string(kHeaderName) + " '" + echoed + "' is not a byte count");
  }
  if (length > body_size) {
    return InvalidArgument(std::string(kHeaderName) + " " + std::to_string(length) + " is beyond the end of the " +
                           std::to_string(body_size) + "-byte body");
  }
  return length;
}

// Whether a body that failed to parse is what a client sends when it puts binary data after JSON and forgets the
// header: control bytes (which JSON text never holds raw, not even inside strings), or a complete JSON object
// followed by something else.
bool LooksLikeJsonThenBinary(std::string_view body) {
  const bool control = std::any_of(body.begin(), body.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < kFirstPrintable && c != '\t' && c != '\n' && c != '\r';
  });
  if (control) return true;
  if (Json::accept(body)) return false;
  // operator>> parses one value and leaves what follows it alone.
  std::istringstream stream{std::string(body)};
  Json prefix;
  try {
    stream >> prefix;
  } catch (const Json::exception&) {
    return false;
  }
  return prefix.is_object();
}

// The input's JSON data (already in its typed contents) as raw bytes, for a request whose other inputs are binary.
StatusOr<std::string> TypedToRaw(const oip::ModelInferRequest& request, int index) {
  const oip::ModelInferRequest::InferInputTensor& input = request.inputs(index);
  const oip::InferTensorContents& contents = input.contents();
  std::string raw;
  if (input.datatype() == "FP32") {
    raw.resize(contents.fp32_contents_size() * sizeof(float));
    if (!raw.empty()) std::memcpy(raw.data(), contents.fp32_contents().data(), raw.size());
  } else if (input.datatype() == "UINT8") {
    for (int i = 0; i < contents.uint_contents_size(); ++i) {
      if (contents.uint_contents(i) > kMaxUint8) {
        return InvalidArgument(InputName(request, index) + " data element " + std::to_string(i) +
                               " must be an integer in [0, 255] (datatype UINT8)");
      }
      raw.push_back(static_cast<char>(contents.uint_contents(i)));
    }
  } else if (input.datatype() == "BYTES") {
    for (const std::string& element : contents.bytes_contents()) {
      const auto length = static_cast<uint32_t>(element.size());
      raw.append(reinterpret_cast<const char*>(&length), kBytesLengthPrefix);
      raw += element;
    }
  }
  return raw;
}

// Hands each binary input its slice of `binary` (the bytes after the JSON) and converts the JSON inputs to raw.
Status AttachBinaryData(std::string_view binary, size_t json_length, InferRequestJson& parsed) {
  oip::ModelInferRequest& request = parsed.request;
  size_t offset = 0;
  for (int i = 0; i < request.inputs_size(); ++i) {
    const std::optional<int64_t>& size = parsed.binary_data_sizes[i];
    if (!size.has_value()) {
      FOVEA_ASSIGN_OR_RETURN(*request.add_raw_input_contents(), TypedToRaw(request, i));
      request.mutable_inputs(i)->clear_contents();
      continue;
    }
    const size_t left = binary.size() - offset;
    if (static_cast<uint64_t>(*size) > left) {
      return InvalidArgument(InputName(request, i) + " has parameters.binary_data_size " + std::to_string(*size) +
                             " but only " + std::to_string(left) + " bytes of binary data follow the JSON" +
                             (offset > 0 ? " and the inputs before it" : ""));
    }
    request.add_raw_input_contents(std::string(binary.substr(offset, *size)));
    offset += *size;
  }
  if (offset != binary.size()) {
    return InvalidArgument("the body has " + std::to_string(binary.size()) + " bytes after its " +
                           std::to_string(json_length) + "-byte JSON header (" + kHeaderName +
                           "), but the inputs' parameters.binary_data_size add up to " + std::to_string(offset));
  }
  return OkStatus();
}

StatusOr<InferRequestJson> ParseJsonOnly(std::string_view body, const std::string& name, const std::string& version) {
  StatusOr<InferRequestJson> parsed = ParseInferRequestJson(body, name, version);
  if (!parsed.ok()) {
    if (LooksLikeJsonThenBinary(body)) {
      return InvalidArgument(std::string("request body is not JSON: it looks like a JSON header followed by binary "
                                         "tensor data, but the ") +
                             kHeaderName + " header that says where the JSON ends is missing");
    }
    return parsed.status();
  }
  for (size_t i = 0; i < parsed->binary_data_sizes.size(); ++i) {
    if (parsed->binary_data_sizes[i].has_value()) {
      return InvalidArgument(InputName(parsed->request, static_cast<int>(i)) +
                             " has parameters.binary_data_size, but the request has no " + kHeaderName +
                             " header, so no binary data follows the JSON");
    }
  }
  return parsed;
}

// --- Response ---

// Appends every whole element of `raw` read as T.
template <typename T>
void AppendNumbers(std::string_view raw, Json& data) {
  for (size_t offset = 0; offset + sizeof(T) <= raw.size(); offset += sizeof(T)) {
    T value;
    std::memcpy(&value, raw.data() + offset, sizeof(T));
    data.push_back(value);
  }
}

void AppendBools(std::string_view raw, Json& data) {
  for (char byte : raw) data.push_back(byte != 0);
}

// Length-prefixed elements; the server wrote them, so a cut-off tail (never expected) is left out rather than failed.
void AppendByteStrings(std::string_view raw, Json& data) {
  while (raw.size() >= kBytesLengthPrefix) {
    uint32_t length = 0;
    std::memcpy(&length, raw.data(), kBytesLengthPrefix);
    raw.remove_prefix(kBytesLengthPrefix);
    if (length > raw.size()) return;
    data.push_back(std::string(raw.substr(0, length)));
    raw.remove_prefix(length);
  }
}

struct JsonRenderer {
  std::string_view datatype;
  void (*append)(std::string_view raw, Json& data);
};

// Every datatype JSON can carry (FP16 and BF16 have no JSON number form the protocol defines).
constexpr JsonRenderer kRenderers[] = {
    {"FP32", AppendNumbers<float>},
    {"FP64", AppendNumbers<double>},
    {"INT8", AppendNumbers<int8_t>},
    {"INT16", AppendNumbers<int16_t>},
    {"INT32", AppendNumbers<int32_t>},
    {"INT64", AppendNumbers<int64_t>},
    {"UINT8", AppendNumbers<uint8_t>},
    {"UINT16", AppendNumbers<uint16_t>},
    {"UINT32", AppendNumbers<uint32_t>},
    {"UINT64", AppendNumbers<uint64_t>},
    {"BOOL", AppendBools},
    {"BYTES", AppendByteStrings},
};

StatusOr<Json> OutputData(const oip::ModelInferResponse::InferOutputTensor& output, std::string_view raw) {
  const auto* renderer = std::find_if(std::begin(kRenderers), std::end(kRenderers),
                                      [&](const JsonRenderer& r) { return r.datatype == output.datatype(); });
  if (renderer == std::end(kRenderers)) {
    return InvalidArgument("output '" + output.name() + "' has datatype " + output.datatype() +
                           ", which has no JSON form; request it as binary data (outputs[].parameters.binary_data: "
                           "true)");
  }
  Json data = Json::array();
  renderer->append(raw, data);
  return data;
}

}  // namespace

StatusOr<InferRequestJson> ParseInferRequestBody(std::string_view body, const std::optional<std::string>& json_length,
                                                 const std::string& name, const std::string& version) {
  if (!json_length.has_value()) return ParseJsonOnly(body, name, version);
  FOVEA_ASSIGN_OR_RETURN(const size_t length, ParseJsonLength(*json_length, body.size()));
  StatusOr<InferRequestJson> parsed = ParseInferRequestJson(body.substr(0, length), name, version);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), "the first " + std::to_string(length) + " bytes of the body (" + kHeaderName +
                                              "): " + parsed.status().message());
  }
  const bool any_binary = std::any_of(parsed->binary_data_sizes.begin(), parsed->binary_data_sizes.end(),
                                      [](const std::optional<int64_t>& size) { return size.has_value(); });
  const std::string_view binary = body.substr(length);
  if (!any_binary && binary.empty()) return parsed;  // JSON only, as Triton's client sends without binary inputs
  FOVEA_RETURN_IF_ERROR(AttachBinaryData(binary, length, *parsed));
  return parsed;
}

StatusOr<InferResponseBody> RenderInferResponse(const oip::ModelInferResponse& response,
                                                const BinaryOutputChoice& binary) {
  Json outputs = Json::array();
  std::string binary_data;
  bool any_binary = false;
  for (int i = 0; i < response.outputs_size(); ++i) {
    const auto& output = response.outputs(i);
    const std::string& raw = i < response.raw_output_contents_size() ? response.raw_output_contents(i) : "";
    Json json = {{"name", output.name()},
                 {"datatype", output.datatype()},
                 {"shape", std::vector<int64_t>(output.shape().begin(), output.shape().end())}};
    if (binary.IsBinary(output.name())) {
      json["parameters"] = {{"binary_data_size", raw.size()}};
      binary_data += raw;
      any_binary = true;
    } else {
      FOVEA_ASSIGN_OR_RETURN(json["data"], OutputData(output, raw));
    }
    outputs.push_back(std::move(json));
  }
  Json json = {{"model_name", response.model_name()}, {"model_version", response.model_version()}};
  if (!response.id().empty()) json["id"] = response.id();
  json["outputs"] = std::move(outputs);
  InferResponseBody rendered{Dump(json), std::nullopt};
  if (any_binary) {
    rendered.json_length = rendered.body.size();
    rendered.body += binary_data;
  }
  return rendered;
}

}  // namespace fovea::server
