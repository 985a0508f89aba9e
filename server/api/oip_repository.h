#pragma once
// Triton's extensions of the Open Inference Protocol that describe the model repository, without gRPC: the model
// configuration (ModelConfig), the statistics (ModelStatistics) and the repository index (RepositoryIndex). The gRPC
// service (server/transport/grpc/oip_service.cc) and the REST routes (server/transport/rest/rest_api.cc) both answer
// from these.

#include <string>
#include <vector>

#include "common/status.h"
#include "inference/grpc_service.pb.h"
#include "server/models/batcher.h"
#include "server/models/model_repository.h"
#include "server/models/repository_poller.h"
#include "server/ops/metrics.h"

namespace fovea::server {

// Triton's platform name for an ONNX model, which its clients expect.
inline constexpr char kTritonOnnxPlatform[] = "onnxruntime_onnx";

// The effective configuration `model` is served with, as Triton's ModelConfig: its folder's config.pbtxt (or
// config.txt) as written, merged with what the model and the server's flags (`batching`, the version policy) fill in:
// name, platform and backend, max_batch_size, version_policy, the input (FP32, its format and dims), every output with
// its data type and dims (without the batch when max_batch_size > 0), the dynamic batcher's delay and queue size, the
// instance groups, and Fovea's own settings as parameters (compute_threads, precision, scores, mean, std,
// channel_order, resize_mode, resize_shorter_side). Printed in text format it parses back into itself.
void DescribeModelConfig(const ServedModel& model, const BatchingOptions& batching, ::inference::ModelConfig& config);

// The statistics of model `name` at protocol version string `version` ("" for every model / every loaded version).
// INVALID_ARGUMENT for a malformed name or version, NOT_FOUND for an unknown one.
StatusOr<::inference::ModelStatisticsResponse> DescribeStatistics(const ModelRepository& repository, Metrics& metrics,
                                                                  const std::string& name, const std::string& version);

// OK for "" (the server's one repository, the only name Fovea answers to); NOT_FOUND otherwise.
Status CheckRepositoryName(const std::string& repository_name);

// The configuration a load request gives in Triton's `config` parameter (a ModelConfig in JSON, a string), empty
// when it gives none. `file:<path>` (model files sent with the request) is not implemented: UNIMPLEMENTED naming the
// parameter, so that a client never believes an override took effect; any other parameter, or a `config` that is not
// a string, is INVALID_ARGUMENT.
StatusOr<std::string> LoadConfigParameter(const ::inference::RepositoryModelLoadRequest& request);

// The repository index (RepositoryPoller::Index()) as Triton's answer: name, version ("" for a model folder with no
// version to report), state and reason; only the READY rows when `ready_only`.
void DescribeRepositoryIndex(const std::vector<IndexEntry>& index, bool ready_only,
                             ::inference::RepositoryIndexResponse& response);

}  // namespace fovea::server
