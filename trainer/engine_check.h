#pragma once
// Cross-check of an exported model: the ONNX bytes imported by modelio and run by the engine (the server's path) on a
// dataset, compared with the trainer's own evaluation of the same images.

#include <functional>
#include <span>
#include <string>

#include "engine/model.h"
#include "engine/session.h"
#include "trainer/augment.h"
#include "trainer/dataset.h"
#include "trainer/evaluation.h"

namespace fovea::trainer {

struct EngineAgreement {
  int64_t images = 0;
  int64_t same_top1 = 0;  // images whose engine argmax equals the trainer's
  double max_probability_difference = 0.0;
  std::vector<float> probabilities;  // the engine's, images * classes
  engine::ModelMetadata metadata;    // as the importer read it back
};

// Runs `session` over images `indices` of `dataset` (normalized, in batches) and hands each batch's outputs with its
// image count to `consume`; stops at the first error.
Status ForEachEngineBatch(const engine::Session& session, const Dataset& dataset, std::span<const int64_t> indices,
                          const Normalization& normalization,
                          const std::function<Status(std::span<const engine::Tensor>, int64_t)>& consume);

// The class probabilities (images × classes) of `session` on every image of `dataset`: its first output, or that
// output's softmax when the model outputs class scores.
StatusOr<std::vector<float>> ClassifyWithEngine(const engine::Session& session, const Dataset& dataset,
                                                const Normalization& normalization);

// Imports `onnx_bytes`, runs every image of `dataset` through an engine Session and compares with `own` (the
// trainer's Evaluate() on the same dataset).
StatusOr<EngineAgreement> CompareWithEngine(const std::string& onnx_bytes, const Dataset& dataset,
                                            const Normalization& normalization, const EvaluationResult& own);

}  // namespace fovea::trainer
