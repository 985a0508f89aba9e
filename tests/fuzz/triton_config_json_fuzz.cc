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
#include "tests/fuzz/triton_config_checks.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = fovea::server::ParseTritonConfigJson(text, "the load request's config");
  if (!parsed.ok()) {
    fovea::fuzz::RequireInvalidArgument(parsed.status());
    return 0;
  }
  fovea::fuzz::CheckLikeTheServer(parsed->config);
  // What the REST ModelConfig route does with a configuration: write it as JSON; a client may load it back.
  std::string written;
  if (!google::protobuf::util::MessageToJsonString(parsed->config, &written).ok()) std::abort();
  const auto reparsed = fovea::server::ParseTritonConfigJson(written, "written back");
  if (!reparsed.ok()) std::abort();
  if (!google::protobuf::util::MessageDifferencer::Equals(parsed->config, reparsed->config)) std::abort();
  return 0;
}
