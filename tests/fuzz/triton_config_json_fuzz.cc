// libFuzzer target: arbitrary bytes as the "config" parameter of a RepositoryModelLoad request, through everything
// Fovea does with one before it loads the model (server/models/triton_config.h): the JSON read, the unknown members
// named and removed, the strict ModelConfig parse, the configuration's own checks and the checks against a fixed
// model, and the JSON written back. Any outcome is fine except a crash, a sanitizer report, a leak or a hang; an error
// must be INVALID_ARGUMENT, and a configuration that parses must write JSON that parses back into itself.

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "server/models/triton_config.h"

namespace {

using fovea::server::TensorSignature;

// The seed model's signature: tiny_classifier.onnx (tests/fuzz/make_seeds.py), [N, 1, 8, 8] in, [N, 3] out.
const std::vector<TensorSignature> kInputs = {{"input", inference::TYPE_FP32, {-1, 1, 8, 8}}};
const std::vector<TensorSignature> kOutputs = {{"scores", inference::TYPE_FP32, {-1, 3}}};

void RequireInvalidArgument(const fovea::Status& status) {
  if (!status.ok() && status.code() != fovea::StatusCode::kInvalidArgument) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = fovea::server::ParseTritonConfigJson(text, "the load request's config");
  if (!parsed.ok()) {
    RequireInvalidArgument(parsed.status());
    return 0;
  }
  RequireInvalidArgument(fovea::server::ValidateTritonConfig(parsed->config, "fuzz"));
  RequireInvalidArgument(fovea::server::CheckConfigAgainstModel(parsed->config, kInputs, kOutputs));
  // What the REST ModelConfig route does with a configuration: write it as JSON; a client may load it back.
  std::string written;
  if (!google::protobuf::util::MessageToJsonString(parsed->config, &written).ok()) std::abort();
  const auto reparsed = fovea::server::ParseTritonConfigJson(written, "written back");
  if (!reparsed.ok()) std::abort();
  if (!google::protobuf::util::MessageDifferencer::Equals(parsed->config, reparsed->config)) std::abort();
  return 0;
}
