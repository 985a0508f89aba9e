#pragma once
// Localizer: everything localization needs for one model, prepared once at load and shared by requests: the tapped
// models for Grad-CAM (its default layer, and layers asked for by name) and CAM, the linear head for CAM, and the
// fully-convolutional model for dense maps. A method the model cannot support keeps the reason, returned
// (FAILED_PRECONDITION) when it is asked for.
//
// Threading: every method may be called from many threads at once.

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/localization/cam.h"
#include "engine/localization/dense_map.h"
#include "engine/localization/grad_cam.h"

namespace fovea::engine::localization {

// CAM or Grad-CAM maps of one image.
struct AttributionMaps {
  Tensor probabilities;          // [classes], the whole image's classification
  std::vector<int64_t> classes;  // the mapped classes (the top-1 class when none was asked for)
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
  // `layer` names the value or node Grad-CAM explains (FeatureTap::Create); empty = the default feature map. A layer
  // that does not exist, or that the logits do not depend on, is INVALID_ARGUMENT naming it.
  StatusOr<AttributionMaps> GradCam(const Tensor& input, std::span<const int64_t> classes, int64_t top_k = 1,
                                    const std::string& layer = "") const;
  // {rows, cols} of the maps CAM (`cam`) or Grad-CAM of `layer` (empty: the default) computes at the model input,
  // so a request's answer can be sized before any work. The default layers' sizes are known from load on; a named
  // layer is prepared (and kept) here. The method's status when it cannot run; INVALID_ARGUMENT for an unknown layer.
  StatusOr<std::pair<int64_t, int64_t>> AttributionMapSize(bool cam, const std::string& layer = "") const;
  // The dense mapper, or the reason there is none.
  StatusOr<const DenseMapper*> Dense() const;

 private:
  Localizer() = default;

  // The Grad-CAM explaining `layer`: the default one, or one prepared on first request and kept (up to
  // kMaxKeptLayers, then prepared per request).
  StatusOr<std::shared_ptr<const localization::GradCam>> GradCamFor(const std::string& layer) const;

  // Finds the GAP head and, when its pooled map is not Grad-CAM's layer, taps that map; the status is CAM's.
  Status PrepareCam();

  std::shared_ptr<const Model> model_;
  mutable std::mutex layers_mutex_;  // guards layers_
  mutable std::map<std::string, std::shared_ptr<const localization::GradCam>> layers_;
  std::unique_ptr<localization::GradCam> grad_cam_;  // its tap also serves CAM when CAM's map is its layer
  std::unique_ptr<FeatureTap> cam_tap_;              // CAM's own tap otherwise
  LinearHead linear_head_;
  std::unique_ptr<DenseMapper> dense_;
  Status cam_status_, grad_cam_status_, dense_status_;
  using MapSize = StatusOr<std::pair<int64_t, int64_t>>;
  MapSize grad_cam_map_size_ = FailedPrecondition("no Grad-CAM target");
  MapSize cam_map_size_ = FailedPrecondition("no CAM feature map");
};

}  // namespace fovea::engine::localization
