#include "server/model_infer_call.h"

#include <exception>

#include "server/oip_infer.h"
#include "server/oip_inputs.h"

namespace fovea::server {
namespace {

using Hooks = std::shared_ptr<const InferCallHooks>;

// Converts the request's inputs (on a worker thread) and queues them on the model's batcher; the call is answered from
// the batcher's completion, or here when nothing reaches the batcher. No exception may escape into the transport.
void ConvertAndSubmit(const std::shared_ptr<const ServedModel>& model, Batcher& batcher,
                      const oip::ModelInferRequest& request, const ClassifyOptions& options,
                      oip::ModelInferResponse& response, const Hooks& hooks) {
  if (hooks->cancelled()) {
    hooks->done({StatusCode::kCancelled, "request was cancelled before it ran"}, InferStage::kConvert);
    return;
  }
  StatusOr<RequestedOutput> output = Internal("not resolved");
  StatusOr<engine::Tensor> images = Internal("not converted");
  try {
    output = ResolveOutput(*model, request);
    if (output.ok()) images = ConvertInferInput(*model, request, options);
  } catch (const std::exception& error) {
    images = Internal(std::string("inference failed: ") + error.what());
  }
  if (!output.ok() || !images.ok()) {
    hooks->done(output.ok() ? images.status() : output.status(), InferStage::kConvert);
    return;
  }
  const int64_t batch = images->dim(0);
  BatchItem item;
  item.images = std::move(*images);
  item.deadline = hooks->deadline;
  item.cancelled = hooks->cancelled;
  item.done = [model, &request, output = *output, batch, &response, hooks](StatusOr<std::span<const float>> scores) {
    if (scores.ok()) WriteInferResponse(*model, request, output, *scores, batch, response);
    hooks->done(scores.status(), InferStage::kBatcher);
  };
  const Status submitted = batcher.Submit(std::move(item));
  if (!submitted.ok()) hooks->done(submitted, InferStage::kBatcher);
}

// Inputs up to this size are converted on the transport's thread: FP32 conversion is a copy and a finiteness check,
// about a microsecond for a small image, less than handing the call to a worker thread costs (a wake-up and two
// context switches).
constexpr size_t kInlineConversionBytes = size_t{1} << 20;

// Whether converting the request's inputs is cheap enough for the transport's thread: FP32 tensors only (UINT8
// tensors may need resizing, BYTES decoding), kInlineConversionBytes in all at most.
bool IsCheapToConvert(const oip::ModelInferRequest& request) {
  size_t bytes = 0;
  for (const auto& input : request.inputs()) {
    if (input.datatype() != "FP32") return false;
    bytes += static_cast<size_t>(input.contents().fp32_contents_size()) * sizeof(float);
  }
  for (const std::string& raw : request.raw_input_contents()) bytes += raw.size();
  return bytes <= kInlineConversionBytes;
}

}  // namespace

std::string InferSummary(const oip::ModelInferResponse& response) {
  int64_t images = 0;
  if (!response.outputs().empty() && !response.outputs(0).shape().empty()) images = response.outputs(0).shape(0);
  return "model=" + response.model_name() + ":" + response.model_version() + " images=" + std::to_string(images);
}

void SubmitModelInfer(common::ThreadPool& workers, ModelBatchers& batchers, const ClassifyOptions& options,
                      std::shared_ptr<const ServedModel> model, const oip::ModelInferRequest& request,
                      oip::ModelInferResponse& response, InferCallHooks hooks) {
  auto shared_hooks = std::make_shared<const InferCallHooks>(std::move(hooks));
  // Small FP32 inputs are queued from the transport's thread, unless the model's batcher does not exist yet (creating
  // it compiles plans): one thread hand-off less per call.
  if (IsCheapToConvert(request)) {
    if (std::shared_ptr<Batcher> batcher = batchers.Existing(model)) {
      ConvertAndSubmit(model, *batcher, request, options, response, shared_hooks);
      return;
    }
  }
  // Converting (and decoding BYTES inputs) is CPU-bound, and a model's first request creates its batcher (compiling
  // plans); the transport's threads must stay free.
  const bool queued =
      workers.Submit([&batchers, options, model = std::move(model), &request, &response, hooks = shared_hooks] {
        StatusOr<std::shared_ptr<Batcher>> batcher = batchers.For(model);
        if (!batcher.ok()) {
          hooks->done(batcher.status(), InferStage::kBatcher);
          return;
        }
        ConvertAndSubmit(model, **batcher, request, options, response, hooks);
      });
  if (!queued) shared_hooks->done({StatusCode::kUnavailable, "server is shutting down"}, InferStage::kBatcher);
}

}  // namespace fovea::server
