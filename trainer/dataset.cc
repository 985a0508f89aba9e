#include "trainer/dataset.h"

#include <algorithm>

namespace fovea::trainer {

uint64_t MixSeed(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Dataset Subset(const Dataset& dataset, std::span<const int64_t> indices) {
  Dataset out;
  out.channels = dataset.channels;
  out.height = dataset.height;
  out.width = dataset.width;
  out.class_names = dataset.class_names;
  out.source = dataset.source;
  const auto elements = static_cast<size_t>(dataset.image_elements());
  out.pixels.resize(indices.size() * elements);
  out.labels.reserve(indices.size());
  for (size_t i = 0; i < indices.size(); ++i) {
    const auto image = dataset.image(indices[i]);
    std::copy(image.begin(), image.end(), out.pixels.begin() + static_cast<std::ptrdiff_t>(i * elements));
    out.labels.push_back(dataset.labels[static_cast<size_t>(indices[i])]);
  }
  return out;
}

std::vector<int64_t> ShuffledIndices(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  // Fisher-Yates with our own hash stream: std::shuffle's use of the engine is implementation-defined.
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j =
        static_cast<int64_t>(MixSeed(seed ^ MixSeed(static_cast<uint64_t>(i))) % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

StatusOr<Split> SplitValidation(const Dataset& dataset, double fraction, uint64_t seed) {
  if (fraction < 0.0 || fraction >= 1.0) {
    return InvalidArgument("validation fraction must be in [0, 1), got " + std::to_string(fraction));
  }
  const auto order = ShuffledIndices(dataset.size(), seed);
  const auto validation_count = static_cast<size_t>(static_cast<double>(dataset.size()) * fraction);
  std::vector<int64_t> validation(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(validation_count));
  std::vector<int64_t> train(order.begin() + static_cast<std::ptrdiff_t>(validation_count), order.end());
  // Sorted so the training set keeps the file's order; shuffling happens per epoch.
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());
  Split split{Subset(dataset, train), Subset(dataset, validation)};
  split.train.source = dataset.source;
  split.validation.source = dataset.source + " (validation split)";
  return split;
}

Dataset LimitPerClass(const Dataset& dataset, int64_t limit) {
  if (limit <= 0) return dataset;
  std::vector<int64_t> taken(static_cast<size_t>(std::max<int64_t>(dataset.num_classes(), 1)), 0);
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const auto label = static_cast<size_t>(dataset.labels[static_cast<size_t>(i)]);
    if (label < taken.size() && taken[label] < limit) {
      ++taken[label];
      keep.push_back(i);
    }
  }
  return Subset(dataset, keep);
}

}  // namespace fovea::trainer
