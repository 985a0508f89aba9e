#pragma once
// The body of the REST infer route in both directions, including the binary tensor data extension of KServe v2 and
// Triton, which Triton's HTTP client uses by default.
//
// Request: a JSON object (rest_json.h), or, when the Inference-Header-Content-Length header is present, that many
// bytes of JSON followed by the binary data of every input whose parameters.binary_data_size gives its byte count,
// in input order (little-endian, row-major; a BYTES element is a 4-byte little-endian length and its bytes). Binary
// data becomes the input's raw_input_contents entry. The protobuf request takes raw contents for all inputs or none,
// so in a request with any binary input the JSON "data" of the others is converted to raw bytes too (FP32, UINT8 and
// BYTES, the datatypes JSON input supports; any other datatype gets empty contents, and ConvertInferInput names it).
//
// Response: an output goes back as binary data when the request asked for it (BinaryOutputChoice); its JSON entry
// then has parameters.binary_data_size instead of "data", and the body is the JSON followed by those outputs' bytes,
// in output order. Every other output is JSON "data": the flat row-major list of its elements, whatever the rank.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "inference/grpc_service.pb.h"
#include "server/transport/rest/rest_json.h"

namespace fovea::server {

// Parses an infer request body for model `name`, version string `version`. `json_length` is the
// Inference-Header-Content-Length header's value, nullopt when absent. INVALID_ARGUMENT for everything
// ParseInferRequestJson refuses, plus: a header value that is not a byte count or lies beyond the body; binary sizes
// that do not add up to the bytes after the JSON (naming the input that runs past the end); a binary_data_size without
// the header; a body that looks like JSON followed by binary data but has no header (said as such, rather than as a
// JSON syntax error).
StatusOr<InferRequestJson> ParseInferRequestBody(std::string_view body, const std::optional<std::string>& json_length,
                                                 const std::string& name, const std::string& version);

struct InferResponseBody {
  std::string body;
  // The JSON's byte count when binary outputs follow it (the Inference-Header-Content-Length response header);
  // nullopt when the body is JSON only.
  std::optional<size_t> json_length;
};

// Renders `response` (outputs in raw_output_contents) with the outputs `binary` names as binary data. JSON data:
// FP32 and FP64 numbers; INT8/16/32/64 and UINT8/16/32/64 integers; BOOL (one byte per element) true or false; BYTES
// (length-prefixed elements) strings. INVALID_ARGUMENT naming the output for a datatype JSON cannot carry (FP16,
// BF16: ask for it as binary data).
StatusOr<InferResponseBody> RenderInferResponse(const ::inference::ModelInferResponse& response,
                                                const BinaryOutputChoice& binary);

}  // namespace fovea::server
