#include "engine/localization/localizer.h"

#include <algorithm>

#include "engine/passes.h"

namespace fovea::engine::localization {
namespace {

int64_t TopClass(const Tensor& probabilities) {
  const auto values = probabilities.floats();
  return std::max_element(values.begin(), values.end()) - values.begin();
}

Status CheckClasses(std::span<const int64_t> classes, int64_t num_classes) {
  for (int64_t c : classes) {
    if (c < 0 || c >= num_classes) {
      return InvalidArgument("class index " + std::to_string(c) + " is outside [0, " + std::to_string(num_classes) +
                             ") (the model has " + std::to_string(num_classes) + " classes)");
    }
  }
  return OkStatus();
}

// A quantized model localizes through its float twin (engine/passes.h, DequantizeGraph): same weights, float
// activations, so gradients and feature maps exist. Any other model localizes as it is.
std::shared_ptr<const Model> LocalizableModel(std::shared_ptr<const Model> model) {
  if (!model->quantized()) return model;
  auto graph = DequantizeGraph(model->graph());
  if (!graph.ok()) return model;
  auto twin = Model::Create(std::move(graph).value(), model->metadata());
  return twin.ok() ? std::move(twin).value() : model;
}

}  // namespace

std::unique_ptr<Localizer> Localizer::Create(std::shared_ptr<const Model> model) {
  model = LocalizableModel(std::move(model));
  std::unique_ptr<Localizer> localizer(new Localizer());
  auto grad_cam = GradCam::Create(model);
  localizer->grad_cam_status_ = grad_cam.status();
  if (grad_cam.ok()) {
    localizer->grad_cam_ = std::move(grad_cam).value();
    auto linear = GapLinearHead(model->graph(), localizer->grad_cam_->tap().head());
    localizer->cam_status_ = linear.status();
    if (linear.ok()) localizer->linear_head_ = std::move(linear).value();
  } else {
    localizer->cam_status_ = grad_cam.status();
  }
  auto dense = DenseMapper::Create(*model);
  localizer->dense_status_ = dense.status();
  if (dense.ok()) localizer->dense_ = std::move(dense).value();
  return localizer;
}

StatusOr<AttributionMaps> Localizer::Cam(const Tensor& input, std::span<const int64_t> classes) const {
  FOVEA_RETURN_IF_ERROR(cam_status_);
  FOVEA_RETURN_IF_ERROR(CheckClasses(classes, linear_head_.weights.dim(0)));
  FOVEA_ASSIGN_OR_RETURN(TappedRun run, grad_cam_->tap().Run(input));
  AttributionMaps maps{run.probabilities, {classes.begin(), classes.end()}, {}};
  if (maps.classes.empty()) maps.classes.push_back(TopClass(run.probabilities));
  const Tensor& feature = run.values.at(grad_cam_->tap().target());
  for (int64_t class_index : maps.classes) {
    FOVEA_ASSIGN_OR_RETURN(Tensor map, ClassActivationMap(feature, linear_head_, class_index));
    NormalizeToUnit(map.floats());
    maps.maps.push_back(std::move(map));
  }
  return maps;
}

StatusOr<AttributionMaps> Localizer::GradCam(const Tensor& input, std::span<const int64_t> classes) const {
  FOVEA_RETURN_IF_ERROR(grad_cam_status_);
  std::vector<int64_t> wanted(classes.begin(), classes.end());
  if (wanted.empty()) {
    // The top-1 class is known only after the forward pass, which Gradients() repeats; one extra forward pass is
    // cheap next to primitive creation for the backward pass.
    FOVEA_ASSIGN_OR_RETURN(TappedRun run, grad_cam_->tap().Run(input));
    wanted.push_back(TopClass(run.probabilities));
  }
  FOVEA_ASSIGN_OR_RETURN(ClassGradients gradients, grad_cam_->Gradients(input, wanted));
  AttributionMaps maps{gradients.run.probabilities, wanted, {}};
  for (const Tensor& gradient : gradients.gradients) {
    FOVEA_ASSIGN_OR_RETURN(Tensor map, GradCamMap(gradients.feature, gradient));
    NormalizeToUnit(map.floats());
    maps.maps.push_back(std::move(map));
  }
  return maps;
}

StatusOr<const DenseMapper*> Localizer::Dense() const {
  FOVEA_RETURN_IF_ERROR(dense_status_);
  return dense_.get();
}

}  // namespace fovea::engine::localization
