#pragma once
// Softmax cross-entropy on plain logits [batch, classes].

#include <cstdint>
#include <span>

namespace fovea::trainer {

struct LossResult {
  double loss = 0.0;    // mean over the batch, in nats
  int64_t correct = 0;  // samples whose argmax equals the label
};

// Computes the mean loss and, when `diff_logits` is not null, its gradient with respect to the logits
// ((softmax - one_hot) / batch, smoothed targets when label_smoothing > 0).
LossResult SoftmaxCrossEntropy(std::span<const float> logits, std::span<const int32_t> labels, int64_t classes,
                               float label_smoothing, float* diff_logits);

// Softmax of each row of `logits` into `probabilities` (same size).
void Softmax(std::span<const float> logits, int64_t classes, std::span<float> probabilities);

// Index of the largest of `values` (the first one on ties).
int64_t ArgMax(std::span<const float> values);

}  // namespace fovea::trainer
