#include "engine/localization/cam.h"

#include <algorithm>

namespace fovea::engine::localization {

StatusOr<Tensor> ClassActivationMap(const Tensor& feature, const LinearHead& head, int64_t class_index) {
  if (feature.rank() != 4 || feature.dim(0) != 1) {
    return InvalidArgument("CAM needs a [1, C, h, w] feature map, got " + ShapeToString(feature.shape()));
  }
  const bool identity = !head.weights.has_data();
  const int64_t channels = feature.dim(1);
  const int64_t classes = identity ? channels : head.weights.dim(0);
  if (class_index < 0 || class_index >= classes) {
    return InvalidArgument("class " + std::to_string(class_index) + " is outside [0, " + std::to_string(classes) + ")");
  }
  if (!identity && head.weights.dim(1) != channels) {
    return InvalidArgument("feature map " + ShapeToString(feature.shape()) + " does not match the " +
                           std::to_string(head.weights.dim(1)) + " classifier inputs");
  }
  const int64_t cells = feature.dim(2) * feature.dim(3);
  Tensor map(DataType::kFloat32, {feature.dim(2), feature.dim(3)});
  for (int64_t k = 0; k < channels; ++k) {
    const float w =
        identity ? (k == class_index ? 1.0f : 0.0f) : head.weights.data<float>()[class_index * channels + k];
    if (w == 0.0f) continue;
    const float* plane = feature.data<float>() + k * cells;
    for (int64_t i = 0; i < cells; ++i) map.data<float>()[i] += w * plane[i];
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
