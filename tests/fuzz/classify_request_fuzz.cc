// libFuzzer target: a serialized fovea.v1.ClassifyRequest in, a status out. Runs what the Classify RPC runs after
// gRPC hands over the message: model lookup (name and version validation), PrepareClassify, RunServedModel and
// FillPredictions (request checks, image decoding or raw tensors, the engine on a small real model, top-k).

#include <cstddef>
#include <cstdint>
#include <memory>

#include "fovea/v1/inference.pb.h"
#include "server/api/classifier.h"
#include "tests/fuzz/tiny_repository.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<fovea::server::ModelRepository> repository =
      fovea::fuzz::LoadTinyRepository("classify_request_fuzz");
  static const fovea::server::ClassifyOptions options = fovea::fuzz::FuzzClassifyOptions();
  fovea::v1::ClassifyRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;  // gRPC would reject it before the service
  const auto model = repository->Find(request.model_name(), request.model_version());
  if (!model.ok()) return 0;
  // What the server does with a request, minus the batcher that would group it with others: prepare (request checks
  // and decoding), run the engine on the good images, fill the predictions.
  fovea::v1::ClassifyResponse response;
  const auto prepared = fovea::server::PrepareClassify(**model, request, options, response);
  if (!prepared.ok() || prepared->good_images.empty()) return 0;
  const auto outputs = fovea::server::RunServedModel(**model, prepared->images);
  if (outputs.ok()) (void)fovea::server::FillPredictions(**model, *prepared, outputs->front().floats(), response);
  return 0;
}
