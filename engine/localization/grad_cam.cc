#include "engine/localization/grad_cam.h"

#include "engine/localization/backward.h"

namespace fovea::engine::localization {

StatusOr<std::unique_ptr<GradCam>> GradCam::Create(std::shared_ptr<const Model> model, const std::string& target) {
  std::unique_ptr<GradCam> grad_cam(new GradCam());
  FOVEA_ASSIGN_OR_RETURN(grad_cam->tap_, FeatureTap::Create(std::move(model), target));
  return grad_cam;
}

StatusOr<ClassGradients> GradCam::Gradients(const Tensor& input, std::span<const int64_t> classes) const {
  ClassGradients result;
  FOVEA_ASSIGN_OR_RETURN(result.run, tap_->Run(input));
  result.feature = result.run.values.at(tap_->target());
  const Tensor& logits = result.run.values.at(tap_->head().logits);
  for (int64_t class_index : classes) {
    if (class_index < 0 || class_index >= logits.num_elements()) {
      return InvalidArgument("class " + std::to_string(class_index) + " is outside [0, " +
                             std::to_string(logits.num_elements()) + ")");
    }
    // The score is one logit, so its gradient with respect to the logits is a one-hot vector.
    Tensor one_hot(DataType::kFloat32, logits.shape());
    one_hot.data<float>()[class_index] = 1.0f;
    FOVEA_ASSIGN_OR_RETURN(Tensor gradient, Backpropagate(tap_->graph(), tap_->path(), result.run.values, one_hot));
    result.gradients.push_back(std::move(gradient));
  }
  return result;
}

StatusOr<Tensor> GradCamMap(const Tensor& feature, const Tensor& gradient) {
  if (feature.rank() != 4 || feature.dim(0) != 1 || gradient.shape() != feature.shape()) {
    return InvalidArgument("Grad-CAM needs a [1, C, h, w] feature map and a gradient of the same shape, got " +
                           ShapeToString(feature.shape()) + " and " + ShapeToString(gradient.shape()));
  }
  const int64_t channels = feature.dim(1), cells = feature.dim(2) * feature.dim(3);
  Tensor map(DataType::kFloat32, {feature.dim(2), feature.dim(3)});
  for (int64_t k = 0; k < channels; ++k) {
    double mean = 0.0;
    for (int64_t i = 0; i < cells; ++i) mean += gradient.data<float>()[k * cells + i];
    const auto weight = static_cast<float>(mean / static_cast<double>(cells));
    const float* plane = feature.data<float>() + k * cells;
    for (int64_t i = 0; i < cells; ++i) map.data<float>()[i] += weight * plane[i];
  }
  return map;
}

}  // namespace fovea::engine::localization
