#include "trainer/evaluation.h"

#include <algorithm>

#include "trainer/loss.h"

namespace fovea::trainer {

std::vector<double> EvaluationResult::PerClassAccuracy(int64_t classes) const {
  std::vector<double> accuracy(static_cast<size_t>(classes), 0.0);
  for (int64_t t = 0; t < classes; ++t) {
    int64_t total = 0;
    for (int64_t p = 0; p < classes; ++p) total += confusion[static_cast<size_t>(t * classes + p)];
    if (total > 0) {
      accuracy[static_cast<size_t>(t)] =
          static_cast<double>(confusion[static_cast<size_t>(t * classes + t)]) / static_cast<double>(total);
    }
  }
  return accuracy;
}

std::pair<double, int64_t> EvaluationResult::AccuracyExcluding(int64_t classes, int64_t excluded) const {
  int64_t correct = 0, total = 0;
  for (int64_t t = 0; t < classes; ++t) {
    if (t == excluded) continue;
    correct += confusion[static_cast<size_t>(t * classes + t)];
    for (int64_t p = 0; p < classes; ++p) total += confusion[static_cast<size_t>(t * classes + p)];
  }
  return {total > 0 ? static_cast<double>(correct) / static_cast<double>(total) : 0.0, total};
}

EvaluationResult Evaluate(CompiledNetwork& network, const Dataset& dataset, const Normalization& normalization) {
  const int64_t batch = network.batch();
  const int64_t classes = network.num_classes();
  const int64_t elements = dataset.image_elements();
  EvaluationResult result;
  result.confusion.assign(static_cast<size_t>(classes * classes), 0);
  result.probabilities.resize(static_cast<size_t>(dataset.size() * classes));
  result.predictions.resize(static_cast<size_t>(dataset.size()));
  std::vector<int64_t> indices;
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  double loss_sum = 0.0;
  int64_t correct = 0;
  for (int64_t start = 0; start < dataset.size(); start += batch) {
    const int64_t count = std::min(batch, dataset.size() - start);
    indices.resize(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) indices[static_cast<size_t>(i)] = start + i;
    float* input = network.input();
    std::fill(input + count * elements, input + batch * elements, 0.0f);
    AssembleBatch(dataset, indices, normalization, nullptr, 0, input, labels.data());
    const float* logits = network.Forward();
    const std::span<const float> valid(logits, static_cast<size_t>(count * classes));
    const LossResult loss = SoftmaxCrossEntropy(
        valid, std::span<const int32_t>(labels.data(), static_cast<size_t>(count)), classes, 0.0f, nullptr);
    loss_sum += loss.loss * static_cast<double>(count);
    correct += loss.correct;
    Softmax(valid, classes,
            std::span<float>(result.probabilities)
                .subspan(static_cast<size_t>(start * classes), static_cast<size_t>(count * classes)));
    for (int64_t i = 0; i < count; ++i) {
      const int64_t predicted = ArgMax(valid.subspan(static_cast<size_t>(i * classes), static_cast<size_t>(classes)));
      result.predictions[static_cast<size_t>(start + i)] = static_cast<int32_t>(predicted);
      ++result.confusion[static_cast<size_t>(labels[static_cast<size_t>(i)] * classes + predicted)];
    }
  }
  const auto n = static_cast<double>(std::max<int64_t>(dataset.size(), 1));
  result.loss = loss_sum / n;
  result.accuracy = static_cast<double>(correct) / n;
  return result;
}

}  // namespace fovea::trainer
