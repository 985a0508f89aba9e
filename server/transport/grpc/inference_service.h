#pragma once
// InferenceService: fovea.v1.Inference on gRPC's callback API. Thin by design: validate, look the model up, decode the
// images on a worker thread (classifier.h), hand them to the model's dynamic batcher (batcher.h) and convert the
// answer back when the batch that carried them has run.

#include <grpcpp/grpcpp.h>

#include "fovea/v1/inference.grpc.pb.h"
#include "server/api/classifier.h"
#include "server/api/localizer.h"
#include "server/models/model_batchers.h"
#include "server/models/model_repository.h"
#include "server/ops/metrics.h"
#include "server/pipeline/serving_context.h"

namespace fovea::server {

class InferenceService final : public v1::Inference::CallbackService {
 public:
  // Everything `serving` refers to is borrowed and must outlive the service.
  explicit InferenceService(ServingContext serving);

  grpc::ServerUnaryReactor* Classify(grpc::CallbackServerContext* context, const v1::ClassifyRequest* request,
                                     v1::ClassifyResponse* response) override;
  grpc::ServerUnaryReactor* Localize(grpc::CallbackServerContext* context, const v1::LocalizeRequest* request,
                                     v1::LocalizeResponse* response) override;
  grpc::ServerUnaryReactor* ListModels(grpc::CallbackServerContext* context, const v1::ListModelsRequest* request,
                                       v1::ListModelsResponse* response) override;
  grpc::ServerUnaryReactor* GetModel(grpc::CallbackServerContext* context, const v1::GetModelRequest* request,
                                     v1::GetModelResponse* response) override;

 private:
  ServingContext serving_;
};

// Fills `response` with the description of `model`; `versions` lists every loaded version of it.
void DescribeModel(const ServedModel& model, const std::vector<int64_t>& versions, int64_t max_dense_pixels,
                   v1::GetModelResponse& response);

}  // namespace fovea::server
