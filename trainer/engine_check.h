#pragma once
// Cross-check of an exported model: the ONNX bytes imported by modelio and run by the engine (the server's path) on a
// dataset, compared with the trainer's own evaluation of the same images.

#include <string>

#include "engine/model.h"
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

// Imports `onnx_bytes`, runs every image of `dataset` through an engine Session and compares with `own` (the
// trainer's Evaluate() on the same dataset).
StatusOr<EngineAgreement> CompareWithEngine(const std::string& onnx_bytes, const Dataset& dataset,
                                            const Normalization& normalization, const EvaluationResult& own);

}  // namespace fovea::trainer
