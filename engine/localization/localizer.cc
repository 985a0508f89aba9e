#include "engine/localization/localizer.h"

#include <algorithm>
#include <numeric>

#include "engine/passes.h"

namespace fovea::engine::localization {
namespace {

// The `k` most probable classes, best first (ties by index).
std::vector<int64_t> TopClasses(const Tensor& probabilities, int64_t k) {
  const auto values = probabilities.floats();
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  k = std::clamp<int64_t>(k, 1, static_cast<int64_t>(order.size()));
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&values](int64_t a, int64_t b) {
    return values[static_cast<size_t>(a)] > values[static_cast<size_t>(b)] ||
           (values[static_cast<size_t>(a)] == values[static_cast<size_t>(b)] && a < b);
  });
  order.resize(static_cast<size_t>(k));
  return order;
}

// {rows, cols} of `value` when `model` runs at its input size: one plan compilation with the value as an output.
StatusOr<std::pair<int64_t, int64_t>> SpatialSize(const Model& model, const std::string& value) {
  FOVEA_ASSIGN_OR_RETURN(auto tapped,
                         Model::Create(WithOutputs(model.graph(), {value}), model.metadata(), {.optimize = false}));
  FOVEA_ASSIGN_OR_RETURN(auto session, Session::Create(tapped));
  FOVEA_ASSIGN_OR_RETURN(Shape input, ModelInputShape(model));
  input.insert(input.begin(), 1);
  FOVEA_ASSIGN_OR_RETURN(auto plan, session->PlanFor(std::span<const Shape>(&input, 1)));
  const auto& outputs = tapped->graph().outputs;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Shape& shape = plan->output_shapes()[i];
    if (outputs[i].name == value && shape.size() == 4) return std::pair{shape[2], shape[3]};
  }
  return FailedPrecondition("the Grad-CAM target '" + value + "' is not a [N, C, H, W] feature map");
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
  localizer->model_ = model;
  auto grad_cam = GradCam::Create(model);
  localizer->grad_cam_status_ = grad_cam.status();
  if (grad_cam.ok()) {
    localizer->grad_cam_ = std::move(grad_cam).value();
    localizer->grad_cam_map_size_ = SpatialSize(*model, localizer->grad_cam_->tap().target());
    localizer->cam_status_ = localizer->PrepareCam();
    if (localizer->cam_status_.ok()) localizer->cam_map_size_ = SpatialSize(*model, localizer->linear_head_.feature);
  } else {
    localizer->cam_status_ = grad_cam.status();
  }
  auto dense = DenseMapper::Create(*model);
  localizer->dense_status_ = dense.status();
  if (dense.ok()) localizer->dense_ = std::move(dense).value();
  return localizer;
}

Status Localizer::PrepareCam() {
  const FeatureTap& grad_cam_tap = grad_cam_->tap();
  FOVEA_ASSIGN_OR_RETURN(linear_head_, GapLinearHead(model_->graph(), grad_cam_tap.head()));
  // The pooled map is often not Grad-CAM's default layer (a DenseNet's final ReLU, an Inception Concat, a SiLU); then
  // CAM keeps it with a tap of its own.
  if (linear_head_.feature != grad_cam_tap.target()) {
    FOVEA_ASSIGN_OR_RETURN(cam_tap_, FeatureTap::Create(model_, linear_head_.feature));
  }
  return OkStatus();
}

StatusOr<AttributionMaps> Localizer::Cam(const Tensor& input, std::span<const int64_t> classes, int64_t top_k) const {
  FOVEA_RETURN_IF_ERROR(cam_status_);
  const FeatureTap& tap = cam_tap_ ? *cam_tap_ : grad_cam_->tap();
  FOVEA_ASSIGN_OR_RETURN(TappedRun run, tap.Run(input));
  FOVEA_RETURN_IF_ERROR(CheckClasses(classes, run.probabilities.num_elements()));
  AttributionMaps maps{run.probabilities, {classes.begin(), classes.end()}, {}};
  if (maps.classes.empty()) maps.classes = TopClasses(run.probabilities, top_k);
  const Tensor& feature = run.values.at(linear_head_.feature);
  for (int64_t class_index : maps.classes) {
    FOVEA_ASSIGN_OR_RETURN(Tensor map, ClassActivationMap(feature, linear_head_, class_index));
    NormalizeToUnit(map.floats());
    maps.maps.push_back(std::move(map));
  }
  return maps;
}

StatusOr<std::shared_ptr<const GradCam>> Localizer::GradCamFor(const std::string& layer) const {
  // Each kept layer holds a compiled copy of the model's graph; past this many, layers are prepared per request.
  constexpr size_t kMaxKeptLayers = 8;
  {
    const std::lock_guard<std::mutex> lock(layers_mutex_);
    const auto found = layers_.find(layer);
    if (found != layers_.end()) return found->second;
  }
  // Prepared outside the lock: two first requests for one layer both prepare it, and one of the two is kept.
  FOVEA_ASSIGN_OR_RETURN(std::shared_ptr<const localization::GradCam> prepared, GradCam::Create(model_, layer));
  const std::lock_guard<std::mutex> lock(layers_mutex_);
  if (layers_.size() < kMaxKeptLayers) layers_.emplace(layer, prepared);
  return prepared;
}

StatusOr<AttributionMaps> Localizer::GradCam(const Tensor& input, std::span<const int64_t> classes, int64_t top_k,
                                             const std::string& layer) const {
  FOVEA_RETURN_IF_ERROR(grad_cam_status_);
  std::shared_ptr<const localization::GradCam> for_layer;
  if (!layer.empty()) {
    FOVEA_ASSIGN_OR_RETURN(for_layer, GradCamFor(layer));
  }
  const localization::GradCam& grad_cam = layer.empty() ? *grad_cam_ : *for_layer;
  std::vector<int64_t> wanted(classes.begin(), classes.end());
  if (wanted.empty()) {
    // The top-1 class is known only after the forward pass, which Gradients() repeats; one extra forward pass is
    // cheap next to primitive creation for the backward pass.
    FOVEA_ASSIGN_OR_RETURN(TappedRun run, grad_cam.tap().Run(input));
    wanted = TopClasses(run.probabilities, top_k);
  }
  FOVEA_ASSIGN_OR_RETURN(ClassGradients gradients, grad_cam.Gradients(input, wanted));
  AttributionMaps maps{gradients.run.probabilities, wanted, {}};
  for (const Tensor& gradient : gradients.gradients) {
    FOVEA_ASSIGN_OR_RETURN(Tensor map, GradCamMap(gradients.feature, gradient));
    NormalizeToUnit(map.floats());
    maps.maps.push_back(std::move(map));
  }
  return maps;
}

StatusOr<std::pair<int64_t, int64_t>> Localizer::AttributionMapSize(bool cam, const std::string& layer) const {
  if (cam) {
    FOVEA_RETURN_IF_ERROR(cam_status_);
    return cam_map_size_;
  }
  FOVEA_RETURN_IF_ERROR(grad_cam_status_);
  if (layer.empty()) return grad_cam_map_size_;
  FOVEA_ASSIGN_OR_RETURN(const std::shared_ptr<const localization::GradCam> for_layer, GradCamFor(layer));
  return SpatialSize(*model_, for_layer->tap().target());
}

StatusOr<const DenseMapper*> Localizer::Dense() const {
  FOVEA_RETURN_IF_ERROR(dense_status_);
  return dense_.get();
}

}  // namespace fovea::engine::localization
