#pragma once
// OipService: the Open Inference Protocol v2 (inference.GRPCInferenceService, as KServe and Triton name it) on gRPC's
// callback API, next to fovea.v1 on the same port. Thin like InferenceService: metadata calls answer on the callback
// thread; ModelInfer converts its inputs on the shared worker pool (oip_infer.h, oip_inputs.h) and is scored on the
// model's dynamic batcher, together with Classify calls for the same model. ModelStreamInfer (Triton's streaming
// extension) runs every request of a stream down that same path (model_infer_stream.h).

#include <atomic>

#include <grpcpp/grpcpp.h>

#include "inference/grpc_service.grpc.pb.h"
#include "server/api/classifier.h"
#include "server/models/model_batchers.h"
#include "server/models/model_repository.h"
#include "server/ops/metrics.h"
#include "server/pipeline/serving_context.h"
#include "server/transport/grpc/model_infer_stream.h"

namespace fovea::server {

class OipService final : public ::inference::GRPCInferenceService::CallbackService {
 public:
  // Everything `serving` refers to is borrowed and must outlive the service.
  explicit OipService(ServingContext serving);

  // From now on ServerReady answers false (the server is draining for shutdown), and every ModelStreamInfer stream
  // stops reading, answers what it read and ends with UNAVAILABLE. Thread-safe.
  void SetDraining();

  grpc::ServerUnaryReactor* ServerLive(grpc::CallbackServerContext* context,
                                       const ::inference::ServerLiveRequest* request,
                                       ::inference::ServerLiveResponse* response) override;
  grpc::ServerUnaryReactor* ServerReady(grpc::CallbackServerContext* context,
                                        const ::inference::ServerReadyRequest* request,
                                        ::inference::ServerReadyResponse* response) override;
  grpc::ServerUnaryReactor* ModelReady(grpc::CallbackServerContext* context,
                                       const ::inference::ModelReadyRequest* request,
                                       ::inference::ModelReadyResponse* response) override;
  grpc::ServerUnaryReactor* ServerMetadata(grpc::CallbackServerContext* context,
                                           const ::inference::ServerMetadataRequest* request,
                                           ::inference::ServerMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelMetadata(grpc::CallbackServerContext* context,
                                          const ::inference::ModelMetadataRequest* request,
                                          ::inference::ModelMetadataResponse* response) override;
  grpc::ServerUnaryReactor* ModelInfer(grpc::CallbackServerContext* context,
                                       const ::inference::ModelInferRequest* request,
                                       ::inference::ModelInferResponse* response) override;
  grpc::ServerBidiReactor<::inference::ModelInferRequest, ::inference::ModelStreamInferResponse>* ModelStreamInfer(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ModelConfig(grpc::CallbackServerContext* context,
                                        const ::inference::ModelConfigRequest* request,
                                        ::inference::ModelConfigResponse* response) override;
  grpc::ServerUnaryReactor* ModelStatistics(grpc::CallbackServerContext* context,
                                            const ::inference::ModelStatisticsRequest* request,
                                            ::inference::ModelStatisticsResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryIndex(grpc::CallbackServerContext* context,
                                            const ::inference::RepositoryIndexRequest* request,
                                            ::inference::RepositoryIndexResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelLoad(grpc::CallbackServerContext* context,
                                                const ::inference::RepositoryModelLoadRequest* request,
                                                ::inference::RepositoryModelLoadResponse* response) override;
  grpc::ServerUnaryReactor* RepositoryModelUnload(grpc::CallbackServerContext* context,
                                                  const ::inference::RepositoryModelUnloadRequest* request,
                                                  ::inference::RepositoryModelUnloadResponse* response) override;

 private:
  // The model `name` at protocol version string `version`: INVALID_ARGUMENT for a bad name or version string,
  // NOT_FOUND for an unknown model or version.
  StatusOr<std::shared_ptr<const ServedModel>> Find(const std::string& name, const std::string& version) const;

  ServingContext serving_;
  std::atomic<bool> draining_{false};
  StreamRegistry streams_;
};

// ServerMetadata's answer: the server's name, version and protocol extensions.
void DescribeOipServer(::inference::ServerMetadataResponse& response);

}  // namespace fovea::server
