#pragma once
// The Open Inference Protocol v2 REST (JSON) forms of the protocol's messages, converted to and from the protobuf
// messages the gRPC service uses, so that REST calls run through exactly the same code (oip_infer.h,
// model_infer_call.h). Also the JSON of the Fovea localization extension. No HTTP here: rest_api.h routes.
//
// Infer request (the protocol's JSON; `data` flat or nested row-major, the shape says how to read it):
//   {"id": "...", "inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [...]}],
//    "outputs": [{"name": "probabilities", "parameters": {"classification": 3}}]}
// BYTES elements are strings (their UTF-8 bytes) or {"b64": "<base64>"} for binary data such as encoded images.
// The binary tensor data extension (a JSON header followed by raw tensor bytes) and the response body are
// rest_infer_body.h's.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "fovea/v1/inference.pb.h"
#include "inference/grpc_service.pb.h"

namespace fovea::server {

// Which outputs the client wants back as binary data (the binary tensor data extension). The REST layer consumes
// these parameters itself; they never reach the protobuf request.
struct BinaryOutputChoice {
  bool all = false;                  // the request's parameters.binary_data_output: true
  std::set<std::string> binary;      // outputs[].parameters.binary_data: true
  std::set<std::string> not_binary;  // outputs[].parameters.binary_data: false (wins over binary_data_output)

  bool IsBinary(const std::string& output) const;
};

// A parsed JSON infer request (or the JSON header of a binary one).
struct InferRequestJson {
  ::inference::ModelInferRequest request;  // inputs with "data" have it in their typed contents
  // Per input, in order: its parameters.binary_data_size when its data follows the JSON header, else nullopt.
  std::vector<std::optional<int64_t>> binary_data_sizes;
  BinaryOutputChoice binary_outputs;
};

// Parses a JSON infer request (or the JSON header of a binary one) for model `name`, version string `version` (from
// the URL). INVALID_ARGUMENT names the problem: not JSON, not an object, a missing or mistyped field (with its path,
// such as "inputs[0].shape"), a data element of the wrong type, a BYTES element that is neither a string nor valid
// {"b64": ...}, a binary_data_size that is not a non-negative integer or comes with "data", a binary_data or
// binary_data_output that is not a boolean. Other parameters of the request, its inputs and outputs go into the
// protobuf's parameters maps. Shapes, datatypes and element counts are checked later by ConvertInferInput, as for
// gRPC. rest_infer_body.h handles the binary data itself.
StatusOr<InferRequestJson> ParseInferRequestJson(std::string_view body, const std::string& name,
                                                 const std::string& version);

// ModelMetadata as JSON: {"name", "versions", "platform", "inputs": [{"name", "datatype", "shape"}], "outputs"}.
std::string ModelMetadataJson(const ::inference::ModelMetadataResponse& response);

// ServerMetadata as JSON: {"name", "version", "extensions"}.
std::string ServerMetadataJson(const ::inference::ServerMetadataResponse& response);

// A localization result as JSON (docs/localization.md, "REST"): method as "cam", "grad-cam", "dense" or "segmentation";
// overlays as base64 PNG in heatmaps[].overlay_png.
std::string LocalizeResponseJson(const v1::LocalizeResponse& response);

// The method named `text` ("auto", "cam", "grad-cam" or "gradcam", "dense", "segmentation"); INVALID_ARGUMENT for
// anything else.
StatusOr<v1::LocalizationMethod> ParseLocalizationMethod(std::string_view text);

// {"error": message}.
std::string ErrorJson(std::string_view message);

}  // namespace fovea::server
