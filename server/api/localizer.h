#pragma once
// Localize: the engine-facing core of the Localize RPC, free of gRPC so it can be tested directly. It decodes the
// image, runs CAM, Grad-CAM or a dense sliding-window map through the model's engine Localizer, turns the maps into
// heatmaps (optionally rendered as PNG overlays) and detections.

#include <cstdint>

#include "common/status.h"
#include "fovea/v1/inference.pb.h"
#include "server/api/image_pipeline.h"
#include "server/models/model_repository.h"

namespace fovea::server {

struct LocalizeOptions {
  ImageLimits image_limits;
  // DENSE runs the trunk at native resolution, so its memory grows with the image: every 32-channel activation of a
  // 1 Mpixel image is 128 MiB. Larger images are RESOURCE_EXHAUSTED.
  int64_t max_dense_pixels = int64_t{1} << 20;
};

inline constexpr float kDefaultScoreThreshold = 0.5f;
inline constexpr float kDefaultNmsIou = 0.3f;
inline constexpr int64_t kLocalizePredictions = 5;
// How strongly a heatmap covers the image in an overlay (0 = only the image, 1 = only the heatmap).
inline constexpr float kOverlayAlpha = 0.45f;

// Answers `request` with `model` into `response`. Errors: INVALID_ARGUMENT (bad image, unknown class, negative or
// incompatible stride, threshold outside [0, 1], image smaller than the model input for DENSE), RESOURCE_EXHAUSTED
// (image over the byte, pixel or dense-pixel limits), FAILED_PRECONDITION (the method does not fit this model).
Status LocalizeImage(const ServedModel& model, const v1::LocalizeRequest& request, const LocalizeOptions& options,
                     v1::LocalizeResponse& response);

}  // namespace fovea::server
