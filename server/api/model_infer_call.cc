#include "server/api/model_infer_call.h"

#include "server/api/oip_infer.h"
#include "server/api/oip_inputs.h"

namespace fovea::server {
namespace {

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

void SubmitModelInfer(const ServingContext& serving, std::shared_ptr<const ServedModel> model,
                      const oip::ModelInferRequest& request, oip::ModelInferResponse& response, CallHooks hooks) {
  const ClassifyOptions options = serving.options;
  auto prepare = [model, &request, &response, options]() -> StatusOr<PreparedRequest> {
    FOVEA_ASSIGN_OR_RETURN(std::vector<RequestedOutput> outputs, ResolveOutputs(*model, request));
    FOVEA_ASSIGN_OR_RETURN(engine::Tensor images, ConvertInferInput(*model, request, options));
    PreparedRequest prepared;
    prepared.images = std::move(images);
    prepared.answer = [model, &request, outputs = std::move(outputs), &response](const BatchRows& rows) {
      WriteInferResponse(*model, request, outputs, rows, response);
      return OkStatus();
    };
    return prepared;
  };
  const bool cheap = IsCheapToConvert(request);
  SubmitToPipeline(serving, std::move(model), cheap, std::move(prepare), std::move(hooks));
}

}  // namespace fovea::server
