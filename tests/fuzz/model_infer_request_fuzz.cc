// libFuzzer target: a serialized inference.ModelInferRequest (Open Inference Protocol v2) in, a status out. Runs what
// the ModelInfer RPC runs after gRPC hands over the message: version parsing, model lookup, output resolution, input
// conversion (FP32 / UINT8 tensors, length-prefixed BYTES images, raw or typed contents), the engine on a small real
// model and the response writer.

#include <cstddef>
#include <cstdint>
#include <memory>

#include "inference/grpc_service.pb.h"
#include "server/api/oip_infer.h"
#include "tests/fuzz/tiny_repository.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<fovea::server::ModelRepository> repository =
      fovea::fuzz::LoadTinyRepository("model_infer_request_fuzz");
  static const fovea::server::ClassifyOptions options = fovea::fuzz::FuzzClassifyOptions();
  inference::ModelInferRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;  // gRPC would reject it before the service
  const auto version = fovea::server::ParseModelVersion(request.model_version());
  if (!version.ok()) return 0;
  const auto model = repository->Find(request.model_name(), *version);
  if (!model.ok()) return 0;
  // What the server does with a request, minus the batcher that would group it with others.
  inference::ModelInferResponse response;
  (void)fovea::server::RunModelInfer(**model, request, options, response);
  return 0;
}
