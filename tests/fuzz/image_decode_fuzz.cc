// libFuzzer target: arbitrary bytes through the PNG/JPEG decoder, then the conversions the server applies to every
// decoded image (channel conversion, resize). Any outcome is fine except a crash, a sanitizer report, a leak or a hang.

#include <cstddef>
#include <cstdint>
#include <span>

#include "imageio/image.h"

namespace {

// Caps the decoded size so a header announcing a huge image is rejected instead of exhausting the fuzzer's memory.
// 256x256: past every size check and resize direction the server has, while a decoded image stays small enough for
// thousands of executions per second under ASan.
constexpr int64_t kFuzzMaxPixels = int64_t{1} << 16;
constexpr int64_t kModelSide = 28;  // the resize target, like the bundled model's input

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fovea::imageio::DecodeLimits limits;
  limits.max_pixels = kFuzzMaxPixels;
  const auto image = fovea::imageio::Decode(std::span<const uint8_t>(data, size), limits);
  if (!image.ok()) return 0;
  for (int64_t channels : {1, 3}) {
    const fovea::imageio::Image converted = fovea::imageio::ConvertChannels(*image, channels);
    (void)fovea::imageio::Resize(converted, kModelSide, kModelSide);
  }
  return 0;
}
