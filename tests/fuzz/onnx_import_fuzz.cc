// libFuzzer target: arbitrary bytes through the ONNX importer (parse, checker, op table, initializers, metadata).
// Any outcome is fine except a crash, a sanitizer report, a leak or a hang.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelio/onnx_import.h"

namespace {

// Small ceilings so one input cannot make the fuzzer spend its time allocating gigabytes of weights.
fovea::modelio::ImportLimits FuzzLimits() {
  fovea::modelio::ImportLimits limits;
  limits.max_file_bytes = size_t{1} << 20;
  limits.max_tensor_elements = int64_t{1} << 20;
  limits.max_nodes = 1000;
  return limits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fovea::modelio::ImportLimits limits = FuzzLimits();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)fovea::modelio::ImportOnnx(bytes, limits);
  return 0;
}
