#pragma once
// The Open Inference Protocol v2 (inference.GRPCInferenceService) without gRPC: version strings, model metadata,
// requested outputs, and ModelInfer from request to response. oip_service.h adds only the transport.
//
// Outputs are the graph's, as it computed them: every output the request names (all of them, in graph order, when it
// names none), in its own datatype (FP32, INT64, UINT8, INT8, BOOL) and shape, batch first, in raw_output_contents.
// With the output parameter "classification" (int64_param k) a score output ([N, K] or [N, K, 1, 1], FP32) becomes
// BYTES [N, k] strings "value:index:label" (":label" left out when the model has no labels), highest raw value first,
// like Triton's classification extension; k above K is clamped to K, as Triton does. fovea.v1 Classify is where
// scores become probabilities.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tensor.h"
#include "inference/grpc_service.pb.h"
#include "server/api/classifier.h"
#include "server/models/batcher.h"
#include "server/models/model_repository.h"

namespace fovea::server {

namespace oip = ::inference;

// The requested-output parameter of the classification extension.
inline constexpr char kClassificationParameter[] = "classification";

// One output the request asked for.
struct RequestedOutput {
  size_t index = 0;                  // into ServedModel::outputs
  int64_t classification_top_k = 0;  // 0: the tensor as computed; k > 0: its top k classes as BYTES strings
};

// A protocol version string as a repository version: "" is 0 (the latest), a positive decimal integer is itself;
// anything else is INVALID_ARGUMENT.
StatusOr<int64_t> ParseModelVersion(std::string_view version);

// The model `name` at protocol version string `version`: INVALID_ARGUMENT for a bad name or version string,
// NOT_FOUND for an unknown model or version, UNAVAILABLE before the repository's first load.
StatusOr<std::shared_ptr<const ServedModel>> FindOipModel(const ModelRepository& repository, const std::string& name,
                                                          const std::string& version);

// True when `repository` can serve a request: loaded and warmed up, with at least one model. The protocol's server
// readiness is this, unless the server is draining.
bool CanServe(const ModelRepository& repository);

// The name of the model's one input, as ModelMetadata reports it and ModelInfer requests must use it.
const std::string& OipInputName(const ServedModel& model);

// Describes `model` (with every loaded version in `versions`) as ModelMetadata: platform "onnx", the graph's input as
// FP32 [-1, C, H, W] and every output with its datatype and shape (-1 for the batch).
void DescribeOipModel(const ServedModel& model, const std::vector<int64_t>& versions,
                      oip::ModelMetadataResponse& response);

// The protocol's name of an engine element type: FP32, INT64, UINT8, INT8, BOOL.
const char* OipDatatype(engine::DataType dtype);

// Checks the request's `outputs` against the model: unknown or repeated names and a bad classification parameter are
// INVALID_ARGUMENT naming them. No outputs listed means every output, as computed. Parameters other than
// classification are left to the transport (REST's binary_data).
StatusOr<std::vector<RequestedOutput>> ResolveOutputs(const ServedModel& model, const oip::ModelInferRequest& request);

// Fills `response` (names, version, id, each requested output and its raw contents) from the request's rows of the
// model's outputs.
void WriteInferResponse(const ServedModel& model, const oip::ModelInferRequest& request,
                        std::span<const RequestedOutput> outputs, const BatchRows& rows,
                        oip::ModelInferResponse& response);

// Answers one ModelInfer request with `model` synchronously on the calling thread: resolve the outputs, convert the
// input, run RunServedModel, write the outputs. The server runs the same steps with the scoring on the model's
// dynamic batcher (server/transport/grpc/oip_service.cc).
Status RunModelInfer(const ServedModel& model, const oip::ModelInferRequest& request, const ClassifyOptions& options,
                     oip::ModelInferResponse& response);

}  // namespace fovea::server
