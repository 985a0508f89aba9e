#pragma once
// The Open Inference Protocol v2 (inference.GRPCInferenceService) without gRPC: version strings, model metadata,
// requested outputs, and ModelInfer from request to response. oip_service.h adds only the transport.
//
// A model has one output, its class scores: FP32 [N, classes] probabilities (softmax applied when the graph ends in
// logits). With the output parameter "classification" (int64_param k) the output becomes BYTES [N, k] strings
// "score:index:label" (":label" left out when the model has no labels), most probable first, like Triton's
// classification extension. Outputs are returned in raw_output_contents.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tensor.h"
#include "inference/grpc_service.pb.h"
#include "server/api/classifier.h"
#include "server/models/model_repository.h"

namespace fovea::server {

namespace oip = ::inference;

// The requested-output parameter of the classification extension.
inline constexpr char kClassificationParameter[] = "classification";

// What the request asked of the model's output.
struct RequestedOutput {
  int64_t classification_top_k = 0;  // 0: FP32 probabilities; k > 0: the top k classes as BYTES strings
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
// FP32 [-1, C, H, W] and its output as FP32 [-1, classes].
void DescribeOipModel(const ServedModel& model, const std::vector<int64_t>& versions,
                      oip::ModelMetadataResponse& response);

// Checks the request's `outputs` against the model: unknown or repeated names and a bad classification parameter are
// INVALID_ARGUMENT naming them. No outputs listed means the scores as probabilities.
StatusOr<RequestedOutput> ResolveOutput(const ServedModel& model, const oip::ModelInferRequest& request);

// Fills `response` (names, version, id, the one output and its raw contents) from `scores` ([batch, classes],
// row-major).
void WriteInferResponse(const ServedModel& model, const oip::ModelInferRequest& request, const RequestedOutput& output,
                        std::span<const float> scores, int64_t batch, oip::ModelInferResponse& response);

// Answers one ModelInfer request with `model` synchronously on the calling thread: resolve the output, convert the
// input, score with RunClassifier, convert back. The server runs the same steps with the scoring on the model's
// dynamic batcher (server/transport/grpc/oip_service.cc).
Status RunModelInfer(const ServedModel& model, const oip::ModelInferRequest& request, const ClassifyOptions& options,
                     oip::ModelInferResponse& response);

}  // namespace fovea::server
