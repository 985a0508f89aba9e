// libFuzzer target: arbitrary bytes through the ONNX importer (parse, checker, op table, initializers, metadata).
// Any outcome is fine except a crash, a sanitizer report, a leak or a hang.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "modelio/onnx_import.h"
#include "tests/fuzz/fuzz_import_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fovea::modelio::ImportLimits limits = fovea::fuzz::FuzzImportLimits();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)fovea::modelio::ImportOnnx(bytes, limits);
  return 0;
}
