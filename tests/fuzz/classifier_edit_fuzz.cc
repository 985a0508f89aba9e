// libFuzzer target: arbitrary bytes through what fine-tuning does with a source model before any training
// (trainer/finetune.h): the ONNX import, the search for the final fully connected layer, and the edit that replaces
// it (modelio/onnx_edit.h) with a 2-class layer. Any outcome is fine except a crash, a sanitizer report, a leak or a
// hang.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/localization/final_layer.h"
#include "modelio/onnx_edit.h"
#include "modelio/onnx_import.h"
#include "tests/fuzz/fuzz_import_limits.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace fovea;
  static const fovea::modelio::ImportLimits limits = fovea::fuzz::FuzzImportLimits();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto imported = modelio::ImportOnnx(bytes, limits);
  if (!imported.ok()) return 0;
  auto layer = engine::localization::FindFinalLayer(imported->graph);
  if (!layer.ok()) return 0;
  // The feature count is not known without running the backbone; the edit must refuse or check, never crash.
  modelio::ClassifierReplacement replacement;
  replacement.features = layer->features;
  replacement.logits = layer->logits;
  replacement.removed_outputs = layer->layer_outputs;
  replacement.class_outputs = layer->class_outputs;
  replacement.weight = engine::Tensor::FromFloats({2, 3}, std::vector<float>(6, 0.5f));
  replacement.bias = engine::Tensor::FromFloats({2}, std::vector<float>(2, 0.0f));
  (void)modelio::ReplaceClassifier(bytes, replacement, {{"fovea.labels", "a\nb\n"}}, "fuzz");
  return 0;
}
