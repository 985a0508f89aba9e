#include "engine/localization/cam.h"

#include <algorithm>

namespace fovea::engine::localization {

StatusOr<Tensor> ClassActivationMap(const Tensor& feature, const LinearHead& head, int64_t class_index) {
  const int64_t classes = head.weights.dim(0), channels = head.weights.dim(1);
  if (class_index < 0 || class_index >= classes) {
    return InvalidArgument("class " + std::to_string(class_index) + " is outside [0, " + std::to_string(classes) + ")");
  }
  if (feature.rank() != 4 || feature.dim(0) != 1 || feature.dim(1) != channels) {
    return InvalidArgument("feature map " + ShapeToString(feature.shape()) + " does not match the " +
                           std::to_string(channels) + " classifier inputs");
  }
  const int64_t cells = feature.dim(2) * feature.dim(3);
  Tensor map(DataType::kFloat32, {feature.dim(2), feature.dim(3)});
  const float* w = head.weights.data<float>() + class_index * channels;
  for (int64_t k = 0; k < channels; ++k) {
    const float* plane = feature.data<float>() + k * cells;
    for (int64_t i = 0; i < cells; ++i) map.data<float>()[i] += w[k] * plane[i];
  }
  return map;
}

void NormalizeToUnit(std::span<float> values) {
  float max = 0.0f;
  for (float& v : values) max = std::max(max, v = std::max(v, 0.0f));
  if (max <= 0.0f) return;
  for (float& v : values) v /= max;
}

}  // namespace fovea::engine::localization
