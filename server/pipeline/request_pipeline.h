#pragma once
// The one path of every inference request, whatever its protocol (fovea.v1 Classify, Open Inference Protocol
// ModelInfer) and transport (gRPC unary, gRPC stream, REST):
//
//   transport ─► admission (the call's log, the model it names) ─► SubmitToPipeline:
//       preparation (decode or convert the inputs: on the worker pool, or on the transport's thread when cheap)
//       ─► the model's dynamic batcher (scored together with every other request for that model)
//       ─► answer (the protocol fills its response from the model's outputs) ─► hooks.done ─► the transport renders it.
//
// The transports supply the protocol's preparation and answer, and hear the outcome through CallHooks; the worker
// hand-off, the batcher and the refusals (cancelled, shutting down, queue full, deadline) exist only here.

#include <chrono>
#include <functional>
#include <memory>
#include <span>

#include "common/status.h"
#include "engine/tensor.h"
#include "server/models/batcher.h"
#include "server/models/model_repository.h"
#include "server/pipeline/serving_context.h"

namespace fovea::server {

// Where a call that failed stopped: preparing its inputs (bad or oversized input), or at the batcher (its queue was
// full, the deadline passed, the engine failed). REST tells an oversized input (413) from a full queue (429) by it.
enum class InferStage { kConvert, kBatcher };

// What the transport supplies and hears back.
struct CallHooks {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> cancelled = [] { return false; };
  // Called exactly once, after the response is filled when the status is OK: from a worker or batcher thread, or
  // from SubmitToPipeline itself (inputs rejected on the caller's thread, or the pool refusing work).
  std::function<void(const Status& status, InferStage stage)> done;
};

// A request made ready for the batcher by its protocol.
struct PreparedRequest {
  // [n, ...] for the batcher; without data when nothing is left to score (every image of a Classify failed): the
  // response is then complete and the call is answered OK at once.
  engine::Tensor images;
  // Fills the protocol's response from the model's outputs for `images` (one row of each per image). Runs once, on a
  // batcher thread.
  std::function<Status(const BatchRows& outputs)> answer;
};

// The protocol's preparation: decodes or converts the request (which the closure borrows) into a PreparedRequest.
// May throw; the pipeline turns an exception into INTERNAL.
using PrepareFunction = std::function<StatusOr<PreparedRequest>()>;

// Runs one request of `model` down the pipeline. `prepare` runs on the transport's thread when `cheap` and the
// model's batcher already exists (one thread hand-off less), else on the worker pool. Everything `prepare` and the
// answer borrow must live until `hooks.done` has been called.
void SubmitToPipeline(const ServingContext& serving, std::shared_ptr<const ServedModel> model, bool cheap,
                      PrepareFunction prepare, CallHooks hooks);

// Runs `job` on the worker pool; when the pool is shutting down, `refused` gets UNAVAILABLE on the caller's thread.
void RunOnWorkers(common::ThreadPool& workers, std::function<void()> job,
                  const std::function<void(const Status&)>& refused);

}  // namespace fovea::server
