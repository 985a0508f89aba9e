// libFuzzer target: arbitrary bytes as a config.pbtxt through everything Fovea does with one before it loads the model
// (server/models/triton_config.h): protobuf's text parser with unknown fields allowed, the not-implemented report, the
// configuration's own checks and the checks against a fixed model, and the text printed back. Any outcome is fine
// except a crash, a sanitizer report, a leak or a hang; an error must be INVALID_ARGUMENT, and a configuration that
// parses must print as text that parses back into itself.

#include <google/protobuf/text_format.h>
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
  const auto parsed = fovea::server::ParseTritonConfig(text, "fuzz/config.pbtxt");
  if (!parsed.ok()) {
    fovea::fuzz::RequireInvalidArgument(parsed.status());
    return 0;
  }
  fovea::fuzz::CheckLikeTheServer(parsed->config);
  // What the ModelConfig RPC does with a configuration: print it; a client parses it back.
  std::string printed;
  if (!google::protobuf::TextFormat::PrintToString(parsed->config, &printed)) std::abort();
  inference::ModelConfig reparsed;
  if (!google::protobuf::TextFormat::ParseFromString(printed, &reparsed)) std::abort();
  if (!google::protobuf::util::MessageDifferencer::Equals(parsed->config, reparsed)) std::abort();
  return 0;
}
