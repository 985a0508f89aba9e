#include "server/pipeline/request_pipeline.h"

#include <exception>
#include <string>

namespace fovea::server {
namespace {

using Hooks = std::shared_ptr<const CallHooks>;

// Prepares the request and queues it on the model's batcher; the call is answered from the batcher's completion, or
// here when nothing reaches the batcher. No exception may escape into the transport.
void PrepareAndSubmit(const PrepareFunction& prepare, Batcher& batcher, const Hooks& hooks) {
  if (hooks->cancelled()) {
    hooks->done({StatusCode::kCancelled, "request was cancelled before it ran"}, InferStage::kConvert);
    return;
  }
  StatusOr<PreparedRequest> prepared = Internal("not prepared");
  try {
    prepared = prepare();
  } catch (const std::exception& error) {
    prepared = Internal(std::string("inference failed: ") + error.what());
  }
  if (!prepared.ok()) {
    hooks->done(prepared.status(), InferStage::kConvert);
    return;
  }
  if (!prepared->images.has_data()) {
    hooks->done(OkStatus(), InferStage::kConvert);
    return;
  }
  BatchItem item;
  item.images = std::move(prepared->images);
  item.deadline = hooks->deadline;
  item.cancelled = hooks->cancelled;
  item.done = [answer = std::move(prepared->answer), hooks](StatusOr<BatchRows> outputs) {
    const Status status = outputs.ok() ? answer(*outputs) : outputs.status();
    hooks->done(status, InferStage::kBatcher);
  };
  const Status submitted = batcher.Submit(std::move(item));
  if (!submitted.ok()) hooks->done(submitted, InferStage::kBatcher);
}

}  // namespace

void RunOnWorkers(common::ThreadPool& workers, std::function<void()> job,
                  const std::function<void(const Status&)>& refused) {
  if (!workers.Submit(std::move(job))) refused({StatusCode::kUnavailable, "server is shutting down"});
}

void SubmitToPipeline(const ServingContext& serving, std::shared_ptr<const ServedModel> model, bool cheap,
                      PrepareFunction prepare, CallHooks hooks) {
  auto shared_hooks = std::make_shared<const CallHooks>(std::move(hooks));
  // Cheap preparation runs on the transport's thread, unless the model's batcher does not exist yet (creating it
  // compiles plans): one thread hand-off less per call.
  if (cheap) {
    if (std::shared_ptr<Batcher> batcher = serving.batchers.Existing(model)) {
      PrepareAndSubmit(prepare, *batcher, shared_hooks);
      return;
    }
  }
  // Decoding and converting are CPU-bound, and a model's first request creates its batcher (compiling plans); the
  // transport's threads must stay free to accept and answer other calls.
  ModelBatchers& batchers = serving.batchers;
  RunOnWorkers(
      serving.workers,
      [&batchers, model = std::move(model), prepare = std::move(prepare), hooks = shared_hooks] {
        StatusOr<std::shared_ptr<Batcher>> batcher = batchers.For(model);
        if (!batcher.ok()) {
          hooks->done(batcher.status(), InferStage::kBatcher);
          return;
        }
        PrepareAndSubmit(prepare, **batcher, hooks);
      },
      [&shared_hooks](const Status& refused) { shared_hooks->done(refused, InferStage::kBatcher); });
}

}  // namespace fovea::server
