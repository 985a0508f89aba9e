#pragma once
// ModelInferStream: one ModelStreamInfer call (Triton's streaming extension of the Open Inference Protocol) on gRPC's
// callback API. Every request read from the stream goes down the same path as a unary ModelInfer call
// (model_infer_call.h: converted on the worker pool, scored on the model's dynamic batcher) and is answered on the
// stream as soon as it finishes, so answers may overtake each other; clients match them by `id`. A failed request is
// answered with its error_message (and the status code's name in the response parameter "error_code") and the stream
// goes on.
//
// Why a stream: a unary call pays gRPC's per-call work (a new call object, header frames, the handler's dispatch and
// completion) on every request; a stream pays it once and then only a message's framing. For a small model that
// per-call work is a large part of the server's CPU per request (bench/RESULTS.md, "Dynamic batching").
//
// Reading runs ahead of the answers, up to kMaxRequestsInFlight requests per stream; beyond that the stream stops
// reading until one is answered, so a client cannot make the server hold more (HTTP/2 flow control pushes back).
// Shutdown (Drain) stops reading: what was read is answered, then the stream ends with UNAVAILABLE.

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include <grpcpp/grpcpp.h>

#include "inference/grpc_service.grpc.pb.h"
#include "server/api/classifier.h"
#include "server/models/model_batchers.h"
#include "server/models/model_repository.h"
#include "server/ops/metrics.h"
#include "server/pipeline/call_log.h"
#include "server/pipeline/serving_context.h"

namespace fovea::server {

class ModelInferStream final
    : public grpc::ServerBidiReactor<::inference::ModelInferRequest, ::inference::ModelStreamInferResponse>,
      public std::enable_shared_from_this<ModelInferStream> {
 public:
  // How many requests one stream may have read but not yet answered.
  static constexpr int kMaxRequestsInFlight = 128;

  // Creates the stream and starts reading; it keeps itself alive until gRPC calls OnDone. `on_done` runs then (the
  // registry forgets the stream).
  static std::shared_ptr<ModelInferStream> Start(grpc::CallbackServerContext* context, ServingContext serving,
                                                 std::function<void(ModelInferStream*)> on_done);

  // The server is shutting down: read nothing more, answer what was read, then end the stream with UNAVAILABLE.
  // Thread-safe; may be called after the stream ended.
  void Drain();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // Public for std::make_shared; use Start.
  ModelInferStream(grpc::CallbackServerContext* context, ServingContext serving,
                   std::function<void(ModelInferStream*)> on_done);

 private:
  // One request read from the stream and, later, its answer.
  struct Exchange {
    ::inference::ModelInferRequest request;
    ::inference::ModelStreamInferResponse response;
  };

  // The gRPC operations a state change calls for. They are decided under `mutex_` and started after it is released:
  // gRPC may run a reaction on the calling thread, and the reactions take `mutex_`.
  struct Operations {
    ::inference::ModelInferRequest* read = nullptr;
    const ::inference::ModelStreamInferResponse* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  // Finds the model and hands the request to the shared ModelInfer path; Answer queues its answer for writing.
  void Serve(std::shared_ptr<Exchange> exchange);
  void Answer(std::shared_ptr<Exchange> exchange, const CallLog& log, const Status& status);
  // Applies `change` to the state under `mutex_`, then starts the operations it calls for.
  void Update(const std::function<void()>& change);
  // Under `mutex_`: the next read when reading may go on, the next write when none is running, Finish when
  // everything is answered and nothing more will be read.
  Operations NextOperations();
  void Perform(const Operations& operations);

  grpc::CallbackServerContext* const context_;
  const ServingContext serving_;
  std::function<void(ModelInferStream*)> on_done_;
  std::shared_ptr<ModelInferStream> self_;  // set by Start, dropped in OnDone

  std::mutex mutex_;
  std::shared_ptr<Exchange> reading_;  // the read in progress writes into it
  bool read_pending_ = false;
  bool reads_ended_ = false;                        // the client half-closed (or the read side failed)
  bool draining_ = false;                           // the server is shutting down
  bool cancelled_ = false;                          // the client went away, or a write failed: nothing more can be sent
  int in_flight_ = 0;                               // read, not yet answered
  std::deque<std::shared_ptr<Exchange>> answered_;  // waiting to be written; front() is being written when writing_
  bool writing_ = false;
  bool finished_ = false;
};

// The streams open now, so that shutdown can drain them.
class StreamRegistry {
 public:
  std::shared_ptr<ModelInferStream> Open(grpc::CallbackServerContext* context, ServingContext serving);
  // Drain every open stream, and every stream opened from now on.
  void DrainAll();

 private:
  std::mutex mutex_;
  std::unordered_map<ModelInferStream*, std::weak_ptr<ModelInferStream>> open_;
  bool draining_ = false;
};

}  // namespace fovea::server
