#pragma once
// The import limits every fuzz target that reads ONNX bytes uses: small ceilings so one input cannot make the fuzzer
// spend its time allocating gigabytes of weights.

#include "modelio/onnx_import.h"

namespace fovea::fuzz {

inline modelio::ImportLimits FuzzImportLimits() {
  modelio::ImportLimits limits;
  limits.max_file_bytes = size_t{1} << 20;
  limits.max_tensor_elements = int64_t{1} << 20;
  limits.max_nodes = 1000;
  return limits;
}

}  // namespace fovea::fuzz
