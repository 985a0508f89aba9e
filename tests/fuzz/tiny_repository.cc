#include "tests/fuzz/tiny_repository.h"

#include <cstdio>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "modelio/onnx_import.h"

namespace fovea::fuzz {
namespace {

[[noreturn]] void Die(const char* fuzzer, const Status& status) {
  std::fprintf(stderr, "%s: cannot serve %s: %s\n", fuzzer, FOVEA_FUZZ_MODEL, status.ToString().c_str());
  std::exit(1);
}

}  // namespace

server::ClassifyOptions FuzzClassifyOptions() {
  server::ClassifyOptions options;
  options.image_limits.max_image_bytes = size_t{1} << 20;
  options.image_limits.max_image_pixels = int64_t{1} << 20;
  options.max_images_per_request = 64;
  return options;
}

std::unique_ptr<server::ModelRepository> LoadTinyRepository(const char* fuzzer) {
  spdlog::set_level(spdlog::level::off);
  auto model = modelio::LoadOnnxModel(FOVEA_FUZZ_MODEL);
  if (!model.ok()) Die(fuzzer, model.status());
  auto served = server::PrepareModel(kTinyModelName, kTinyModelVersion, *model);
  if (!served.ok()) Die(fuzzer, served.status());
  server::ModelCatalog catalog;
  catalog[kTinyModelName][kTinyModelVersion] = *served;
  return std::make_unique<server::ModelRepository>(std::move(catalog));
}

}  // namespace fovea::fuzz
