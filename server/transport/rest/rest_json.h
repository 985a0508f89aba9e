#pragma once
// The Open Inference Protocol v2 REST (JSON) forms of the protocol's messages, converted to and from the protobuf
// messages the gRPC service uses, so that REST calls run through exactly the same code (oip_infer.h,
// model_infer_call.h). Also the JSON of the Fovea localization extension. No HTTP here: rest_api.h routes.
//
// Infer request (the protocol's JSON; `data` flat or nested row-major, the shape says how to read it):
//   {"id": "...", "inputs": [{"name": "input", "shape": [1, 1, 28, 28], "datatype": "FP32", "data": [...]}],
//    "outputs": [{"name": "probabilities", "parameters": {"classification": 3}}]}
// BYTES elements are strings (their UTF-8 bytes) or {"b64": "<base64>"} for binary data such as encoded images.

#include <string>
#include <string_view>

#include "common/status.h"
#include "fovea/v1/inference.pb.h"
#include "inference/grpc_service.pb.h"
#include "server/models/model_repository.h"

namespace fovea::server {

// Parses a JSON infer request body for model `name`, version string `version` (from the URL) into the protobuf
// request. INVALID_ARGUMENT names the problem: not JSON, not an object, a missing or mistyped field (with its path,
// such as "inputs[0].shape"), a data element of the wrong type, a BYTES element that is neither a string nor valid
// {"b64": ...}. Shapes, datatypes and element counts are checked later by ConvertInferInput, as for gRPC.
StatusOr<::inference::ModelInferRequest> ParseInferRequestJson(std::string_view body, const std::string& name,
                                                               const std::string& version);

// The response as the protocol's JSON: {"model_name", "model_version", "id", "outputs": [{"name", "datatype",
// "shape", "data"}]}, data flat row-major (FP32 numbers, BYTES strings).
std::string InferResponseJson(const ::inference::ModelInferResponse& response);

// ModelMetadata as JSON: {"name", "versions", "platform", "inputs": [{"name", "datatype", "shape"}], "outputs"}.
std::string ModelMetadataJson(const ::inference::ModelMetadataResponse& response);

// ServerMetadata as JSON: {"name", "version", "extensions"}.
std::string ServerMetadataJson(const ::inference::ServerMetadataResponse& response);

// A localization result as JSON (docs/localization.md, "REST"): method as "cam", "grad-cam" or "dense"; overlays as
// base64 PNG in heatmaps[].overlay_png.
std::string LocalizeResponseJson(const v1::LocalizeResponse& response);

// The method named `text` ("auto", "cam", "grad-cam" or "gradcam", "dense"); INVALID_ARGUMENT for anything else.
StatusOr<v1::LocalizationMethod> ParseLocalizationMethod(std::string_view text);

// {"error": message}.
std::string ErrorJson(std::string_view message);

}  // namespace fovea::server
