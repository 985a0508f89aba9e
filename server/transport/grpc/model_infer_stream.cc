#include "server/transport/grpc/model_infer_stream.h"

#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "server/api/model_infer_call.h"
#include "server/api/oip_infer.h"
#include "server/pipeline/admission.h"

namespace fovea::server {
namespace {

constexpr char kMethod[] = "ModelStreamInfer";
// The response parameter that carries a failed request's status code name, e.g. "RESOURCE_EXHAUSTED", so that a
// client can tell a full queue (retry later) from a bad request without parsing error_message.
constexpr char kErrorCodeParameter[] = "error_code";
// Triton's request parameter asking for the final-response flag, and the response parameter that carries it. Every
// ModelInfer answer is its request's only response, so it is always the final one.
constexpr char kEnableFinalResponseParameter[] = "triton_enable_empty_final_response";
constexpr char kFinalResponseParameter[] = "triton_final_response";

bool WantsFinalResponseFlag(const oip::ModelInferRequest& request) {
  const auto found = request.parameters().find(kEnableFinalResponseParameter);
  return found != request.parameters().end() &&
         found->second.parameter_choice_case() == oip::InferParameter::kBoolParam && found->second.bool_param();
}

// A failed request's answer: the message, the code's name, and what identifies the request.
void WriteError(const oip::ModelInferRequest& request, const Status& status, oip::ModelStreamInferResponse& response) {
  response.Clear();
  response.set_error_message(std::string(status.message()));
  oip::ModelInferResponse& answer = *response.mutable_infer_response();
  answer.set_model_name(request.model_name());
  answer.set_model_version(request.model_version());
  answer.set_id(request.id());
  (*answer.mutable_parameters())[kErrorCodeParameter].set_string_param(StatusCodeName(status.code()));
}

}  // namespace

std::shared_ptr<ModelInferStream> ModelInferStream::Start(grpc::CallbackServerContext* context, ServingContext serving,
                                                          std::function<void(ModelInferStream*)> on_done) {
  auto stream = std::make_shared<ModelInferStream>(context, std::move(serving), std::move(on_done));
  stream->self_ = stream;
  Operations first;
  {
    std::lock_guard lock(stream->mutex_);
    first = stream->NextOperations();
  }
  // gRPC holds this read back until the handler has returned the reactor, so nothing completes before Start returns.
  stream->Perform(first);
  return stream;
}

ModelInferStream::ModelInferStream(grpc::CallbackServerContext* context, ServingContext serving,
                                   std::function<void(ModelInferStream*)> on_done)
    : context_(context), serving_(std::move(serving)), on_done_(std::move(on_done)) {
  spdlog::debug("{} stream opened by {}", kMethod, context_->peer());
}

void ModelInferStream::Drain() {
  Update([this] { draining_ = true; });
}

void ModelInferStream::OnReadDone(bool ok) {
  std::shared_ptr<Exchange> exchange;
  Operations operations;
  {
    std::lock_guard lock(mutex_);
    read_pending_ = false;
    if (ok) {
      exchange = std::move(reading_);
      ++in_flight_;  // counted before the next read starts, so the stream cannot finish under this request
    } else {
      reads_ended_ = true;
    }
    operations = NextOperations();  // reads on at once: the next request queues while this one is served
  }
  Perform(operations);
  if (exchange) Serve(std::move(exchange));
}

void ModelInferStream::OnWriteDone(bool ok) {
  Update([this, ok] {
    writing_ = false;
    answered_.pop_front();
    if (!ok) cancelled_ = true;
  });
}

void ModelInferStream::OnCancel() {
  Update([this] { cancelled_ = true; });
}

void ModelInferStream::OnDone() {
  spdlog::debug("{} stream from {} ended", kMethod, context_->peer());
  on_done_(this);
  // The last reference may be this one: the stream is destroyed when `self` goes out of scope, and nothing after
  // that line may touch it.
  std::shared_ptr<ModelInferStream> self = std::move(self_);
}

void ModelInferStream::Serve(std::shared_ptr<Exchange> exchange) {
  CallLog log = StartCall(exchange->request.id(), kMethod, serving_.metrics);
  StatusOr<std::shared_ptr<const ServedModel>> model =
      Admit(FindOipModel(serving_.repository, exchange->request.model_name(), exchange->request.model_version()), log);
  if (!model.ok()) {
    Answer(std::move(exchange), log, model.status());
    return;
  }
  spdlog::debug("[{}] {} started: model={} inputs={}", log.request_id, kMethod, exchange->request.model_name(),
                exchange->request.inputs_size());
  CallHooks hooks;
  hooks.deadline = SteadyDeadline(context_);
  // `this` outlives every request in flight: the stream finishes only when none is left.
  hooks.cancelled = [this] { return context_->IsCancelled(); };
  hooks.done = [this, exchange, log](const Status& status, InferStage /*stage*/) { Answer(exchange, log, status); };
  const oip::ModelInferRequest& request = exchange->request;
  oip::ModelInferResponse& response = *exchange->response.mutable_infer_response();
  SubmitModelInfer(serving_, *std::move(model), request, response, std::move(hooks));
}

void ModelInferStream::Answer(std::shared_ptr<Exchange> exchange, const CallLog& log, const Status& status) {
  if (!status.ok()) WriteError(exchange->request, status, exchange->response);
  if (WantsFinalResponseFlag(exchange->request)) {
    (*exchange->response.mutable_infer_response()->mutable_parameters())[kFinalResponseParameter].set_bool_param(true);
  }
  RecordCall(log, status, status.ok() && LogsCallDetail() ? InferSummary(exchange->response.infer_response()) : "");
  Update([this, &exchange] {
    --in_flight_;
    if (!cancelled_) answered_.push_back(std::move(exchange));
  });
}

void ModelInferStream::Update(const std::function<void()>& change) {
  Operations operations;
  {
    std::lock_guard lock(mutex_);
    change();
    operations = NextOperations();
  }
  Perform(operations);
}

ModelInferStream::Operations ModelInferStream::NextOperations() {
  Operations next;
  if (finished_) return next;
  if (cancelled_) {
    // Nothing more can be sent: keep only the answer being written (its buffer is gRPC's until OnWriteDone).
    while (answered_.size() > (writing_ ? 1u : 0u)) answered_.pop_back();
  }
  const bool may_read = !reads_ended_ && !draining_ && !cancelled_;
  if (may_read && !read_pending_ && in_flight_ < kMaxRequestsInFlight) {
    reading_ = std::make_shared<Exchange>();
    read_pending_ = true;
    next.read = &reading_->request;
  }
  if (!writing_ && !answered_.empty()) {
    writing_ = true;
    next.write = &answered_.front()->response;
  }
  if (!may_read && !writing_ && answered_.empty() && in_flight_ == 0) {
    finished_ = true;
    if (cancelled_) {
      next.finish = grpc::Status::CANCELLED;
    } else if (reads_ended_) {
      next.finish = grpc::Status::OK;
    } else {
      next.finish = grpc::Status(grpc::StatusCode::UNAVAILABLE, "server is shutting down");
    }
  }
  return next;
}

void ModelInferStream::Perform(const Operations& operations) {
  if (operations.read != nullptr) StartRead(operations.read);
  if (operations.write != nullptr) StartWrite(operations.write);
  // Last: once finished, the stream may be destroyed on another thread at any moment.
  if (operations.finish) Finish(*operations.finish);
}

std::shared_ptr<ModelInferStream> StreamRegistry::Open(grpc::CallbackServerContext* context, ServingContext serving) {
  std::shared_ptr<ModelInferStream> stream =
      ModelInferStream::Start(context, std::move(serving), [this](ModelInferStream* done) {
        std::lock_guard lock(mutex_);
        open_.erase(done);
      });
  bool drain = false;
  {
    std::lock_guard lock(mutex_);
    open_.emplace(stream.get(), stream);
    drain = draining_;
  }
  if (drain) stream->Drain();
  return stream;
}

void StreamRegistry::DrainAll() {
  std::vector<std::shared_ptr<ModelInferStream>> streams;
  {
    std::lock_guard lock(mutex_);
    draining_ = true;
    for (const auto& [key, weak] : open_) {
      if (std::shared_ptr<ModelInferStream> stream = weak.lock()) streams.push_back(std::move(stream));
    }
  }
  for (const auto& stream : streams) stream->Drain();
}

}  // namespace fovea::server
