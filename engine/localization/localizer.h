#pragma once
// Localizer: everything localization needs for one model, prepared once at load and shared by requests: the tapped
// model for CAM and Grad-CAM, the linear head for CAM, and the fully-convolutional model for dense maps. A method the
// model cannot support keeps the reason, returned (FAILED_PRECONDITION) when it is asked for.
//
// Threading: every method may be called from many threads at once.

#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "engine/localization/cam.h"
#include "engine/localization/dense_map.h"
#include "engine/localization/grad_cam.h"

namespace fovea::engine::localization {

// CAM or Grad-CAM maps of one image.
struct AttributionMaps {
  Tensor probabilities;          // [classes], the whole image's classification
  std::vector<int64_t> classes;  // the mapped classes (the image's top classes when none was asked for)
  std::vector<Tensor> maps;      // per class, [h, w] feature-map cells, scaled into [0, 1] by NormalizeToUnit
};

class Localizer {
 public:
  static std::unique_ptr<Localizer> Create(std::shared_ptr<const Model> model);

  // OK, or why the method cannot run on this model.
  const Status& cam_status() const { return cam_status_; }
  const Status& grad_cam_status() const { return grad_cam_status_; }
  const Status& dense_status() const { return dense_status_; }

  // `input` is [1, C, H, W] at the model's input size. Classes outside the model are INVALID_ARGUMENT. No classes:
  // the image's `top_k` most probable ones (at most the model's classes), best first.
  StatusOr<AttributionMaps> Cam(const Tensor& input, std::span<const int64_t> classes, int64_t top_k = 1) const;
  StatusOr<AttributionMaps> GradCam(const Tensor& input, std::span<const int64_t> classes, int64_t top_k = 1) const;
  // {rows, cols} of every CAM and Grad-CAM map (the target's spatial size at the model input), known from load on so
  // a request's answer can be sized before any work; the Grad-CAM status when there is no target.
  StatusOr<std::pair<int64_t, int64_t>> AttributionMapSize() const;
  // The dense mapper, or the reason there is none.
  StatusOr<const DenseMapper*> Dense() const;

 private:
  Localizer() = default;

  std::unique_ptr<localization::GradCam> grad_cam_;  // its tap also serves CAM
  LinearHead linear_head_;
  std::unique_ptr<DenseMapper> dense_;
  Status cam_status_, grad_cam_status_, dense_status_;
  StatusOr<std::pair<int64_t, int64_t>> attribution_map_size_ = FailedPrecondition("no Grad-CAM target");
};

}  // namespace fovea::engine::localization
