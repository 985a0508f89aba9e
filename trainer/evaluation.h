#pragma once
// The trainer's own evaluation: an inference-compiled network (BatchNorm running statistics) over a dataset, with
// loss, accuracy, per-image probabilities and the confusion matrix.

#include <cstdint>
#include <utility>
#include <vector>

#include "trainer/augment.h"
#include "trainer/dataset.h"
#include "trainer/network.h"

namespace fovea::trainer {

struct EvaluationResult {
  double loss = 0.0;
  double accuracy = 0.0;             // fraction in [0, 1]
  std::vector<int64_t> confusion;    // classes * classes, row = true class, column = predicted
  std::vector<float> probabilities;  // size() * classes, softmax of the logits, in dataset order
  std::vector<int32_t> predictions;  // argmax per image

  // Accuracy of each class (row of the confusion matrix), NaN-free: 0 for a class without images.
  std::vector<double> PerClassAccuracy(int64_t classes) const;
  // Accuracy over the images of every class but `excluded` (e.g. the generated background class), still counting
  // them wrong when predicted as `excluded`; with excluded < 0 the plain accuracy. Returns {accuracy, images}.
  std::pair<double, int64_t> AccuracyExcluding(int64_t classes, int64_t excluded) const;
};

// Runs `network` (compiled for inference) over every image of `dataset`; the last partial batch is zero-padded and
// its padding ignored.
EvaluationResult Evaluate(CompiledNetwork& network, const Dataset& dataset, const Normalization& normalization);

}  // namespace fovea::trainer
