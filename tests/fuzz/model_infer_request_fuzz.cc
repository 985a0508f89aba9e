// libFuzzer target: a serialized inference.ModelInferRequest (Open Inference Protocol v2) in, a status out. Runs what
// the ModelInfer RPC runs after gRPC hands over the message: version parsing, model lookup, output resolution, input
// conversion (FP32 / UINT8 tensors, length-prefixed BYTES images, raw or typed contents), the engine on a small real
// model and the response writer. FOVEA_FUZZ_MODEL names the ONNX file served.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <spdlog/spdlog.h>

#include "inference/grpc_service.pb.h"
#include "modelio/onnx_import.h"
#include "server/oip_infer.h"
#include "server/model_repository.h"

namespace {

constexpr char kModelName[] = "tiny";
constexpr int64_t kModelVersion = 1;

// Smaller than the server's defaults so inputs that pass every check stay cheap to run.
fovea::server::ClassifyOptions FuzzOptions() {
  fovea::server::ClassifyOptions options;
  options.image_limits.max_image_bytes = size_t{1} << 20;
  options.image_limits.max_image_pixels = int64_t{1} << 20;
  options.max_images_per_request = 64;
  return options;
}

[[noreturn]] void Die(const fovea::Status& status) {
  std::fprintf(stderr, "model_infer_request_fuzz: cannot serve %s: %s\n", FOVEA_FUZZ_MODEL, status.ToString().c_str());
  std::exit(1);
}

std::unique_ptr<fovea::server::ModelRepository> LoadRepository() {
  spdlog::set_level(spdlog::level::off);
  // The fuzzer is useless without its model: stop at once, saying why.
  auto model = fovea::modelio::LoadOnnxModel(FOVEA_FUZZ_MODEL);
  if (!model.ok()) Die(model.status());
  auto served = fovea::server::PrepareModel(kModelName, kModelVersion, *model);
  if (!served.ok()) Die(served.status());
  fovea::server::ModelCatalog catalog;
  catalog[kModelName][kModelVersion] = *served;
  return std::make_unique<fovea::server::ModelRepository>(std::move(catalog));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<fovea::server::ModelRepository> repository = LoadRepository();
  static const fovea::server::ClassifyOptions options = FuzzOptions();
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
