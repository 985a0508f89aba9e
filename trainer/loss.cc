#include "trainer/loss.h"

#include <algorithm>
#include <cmath>

namespace fovea::trainer {

int64_t ArgMax(std::span<const float> values) {
  return std::max_element(values.begin(), values.end()) - values.begin();
}

void Softmax(std::span<const float> logits, int64_t classes, std::span<float> probabilities) {
  const auto k = static_cast<size_t>(classes);
  for (size_t row = 0; row + k <= logits.size(); row += k) {
    const auto in = logits.subspan(row, k);
    // Subtracting the maximum keeps exp() finite for any logits.
    const float top = *std::max_element(in.begin(), in.end());
    double sum = 0.0;
    for (size_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(in[j] - top));
    for (size_t j = 0; j < k; ++j) {
      probabilities[row + j] = static_cast<float>(std::exp(static_cast<double>(in[j] - top)) / sum);
    }
  }
}

LossResult SoftmaxCrossEntropy(std::span<const float> logits, std::span<const int32_t> labels, int64_t classes,
                               float label_smoothing, float* diff_logits) {
  const auto k = static_cast<size_t>(classes);
  const size_t batch = labels.size();
  const double off_target = label_smoothing / static_cast<double>(classes);
  const double on_target = 1.0 - label_smoothing + off_target;
  LossResult result;
  for (size_t i = 0; i < batch; ++i) {
    const auto row = logits.subspan(i * k, k);
    const float top = *std::max_element(row.begin(), row.end());
    double sum = 0.0;
    for (size_t j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j] - top));
    const double log_sum = std::log(sum);
    const auto label = static_cast<size_t>(labels[i]);
    for (size_t j = 0; j < k; ++j) {
      const double log_p = static_cast<double>(row[j] - top) - log_sum;
      const double target = j == label ? on_target : off_target;
      result.loss -= target * log_p;
      if (diff_logits != nullptr) {
        diff_logits[i * k + j] = static_cast<float>((std::exp(log_p) - target) / static_cast<double>(batch));
      }
    }
    if (static_cast<size_t>(ArgMax(row)) == label) ++result.correct;
  }
  result.loss /= static_cast<double>(std::max<size_t>(batch, 1));
  return result;
}

}  // namespace fovea::trainer
