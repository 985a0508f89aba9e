#pragma once
// Grad-CAM (Selvaraju et al., 2017): the feature map A of a convolution weighted by how much each channel moves a
// class score y_c: map = Σ_k α_k A_k with α_k = mean over cells of ∂y_c/∂A_k. The score is the class logit (before
// softmax). Works for any graph of nodes between the target and the logits whose ops have a backward (backward.h).

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/localization/feature_tap.h"

namespace fovea::engine::localization {

// One image's forward pass and, per requested class, the gradient of its logit with respect to the target.
struct ClassGradients {
  TappedRun run;
  Tensor feature;                 // the target value [1, C, h, w]
  std::vector<Tensor> gradients;  // per requested class, shaped like feature
};

class GradCam {
 public:
  // `target` names the value (or node) to explain; empty = the last convolution with spatial extent (FeatureTap).
  static StatusOr<std::unique_ptr<GradCam>> Create(std::shared_ptr<const Model> model, const std::string& target = "");

  const FeatureTap& tap() const { return *tap_; }

  // Runs `input` ([1, C, H, W] at the model input size) and backpropagates each class's logit. INVALID_ARGUMENT for
  // a class outside the model's outputs.
  StatusOr<ClassGradients> Gradients(const Tensor& input, std::span<const int64_t> classes) const;

 private:
  GradCam() = default;
  std::unique_ptr<FeatureTap> tap_;
};

// Σ_k mean(gradient_k) · feature_k for feature and gradient [1, C, h, w] → [h, w] (raw, before the ReLU that
// NormalizeToUnit applies).
StatusOr<Tensor> GradCamMap(const Tensor& feature, const Tensor& gradient);

}  // namespace fovea::engine::localization
