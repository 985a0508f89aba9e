#pragma once
// One Open Inference Protocol ModelInfer call, whatever the transport (gRPC in oip_service.cc, REST in rest_api.cc):
// the inputs are converted (on the shared worker pool, or on the caller's thread when they are small FP32 tensors) and
// scored on the model's dynamic batcher, together with every other Classify and ModelInfer call for that model. Both
// transports share this one path, so they share its validation, limits and batching.

#include <chrono>
#include <functional>
#include <memory>

#include "common/status.h"
#include "inference/grpc_service.pb.h"
#include "server/classifier.h"
#include "server/model_batchers.h"
#include "server/model_repository.h"
#include "common/thread_pool.h"

namespace fovea::server {

// Where a call that failed stopped: converting its inputs (bad or oversized input), or at the batcher (its queue was
// full, the deadline passed, the engine failed). REST tells an oversized input (413) from a full queue (429) by it.
enum class InferStage { kConvert, kBatcher };

// What the transport supplies and hears back.
struct InferCallHooks {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> cancelled = [] { return false; };
  // Called exactly once, after `response` is filled when the status is OK: from a worker or batcher thread, or from
  // SubmitModelInfer itself (inputs rejected on the caller's thread, or the pool refusing work).
  std::function<void(const Status& status, InferStage stage)> done;
};

// Answers `request` with `model` into `response` asynchronously. `request` and `response` are borrowed and must live
// until `hooks.done` has been called.
void SubmitModelInfer(common::ThreadPool& workers, ModelBatchers& batchers, const ClassifyOptions& options,
                      std::shared_ptr<const ServedModel> model, const ::inference::ModelInferRequest& request,
                      ::inference::ModelInferResponse& response, InferCallHooks hooks);

// One log line's summary of an answered call: "model=NAME:VERSION images=N".
std::string InferSummary(const ::inference::ModelInferResponse& response);

}  // namespace fovea::server
