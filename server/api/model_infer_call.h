#pragma once
// The Open Inference Protocol's part of the request pipeline (request_pipeline.h) for one ModelInfer call, whatever the
// transport (gRPC unary in oip_service.cc, gRPC stream in model_infer_stream.cc, REST in rest_api.cc): its
// preparation converts the inputs (on the caller's thread when they are small FP32 tensors), its answer writes the
// requested output. The transports share this one path, so they share its validation, limits and batching.

#include <memory>
#include <string>

#include "inference/grpc_service.pb.h"
#include "server/models/model_repository.h"
#include "server/pipeline/request_pipeline.h"
#include "server/pipeline/serving_context.h"

namespace fovea::server {

// Answers `request` with `model` into `response` asynchronously. `request` and `response` are borrowed and must live
// until `hooks.done` has been called.
void SubmitModelInfer(const ServingContext& serving, std::shared_ptr<const ServedModel> model,
                      const ::inference::ModelInferRequest& request, ::inference::ModelInferResponse& response,
                      CallHooks hooks);

// One log line's summary of an answered call: "model=NAME:VERSION images=N".
std::string InferSummary(const ::inference::ModelInferResponse& response);

}  // namespace fovea::server
