#pragma once
// Localize: the engine-facing core of the Localize RPC, free of gRPC so it can be tested directly. It decodes the
// image, runs CAM, Grad-CAM or a dense sliding-window map through the model's engine Localizer, turns the maps into
// heatmaps (optionally rendered as PNG overlays) and detections.

#include <cstdint>

#include "common/status.h"
#include "fovea/v1/inference.pb.h"
#include "server/api/classifier.h"
#include "server/api/image_pipeline.h"
#include "server/api/localize_budget.h"
#include "server/models/model_repository.h"

namespace fovea::server {

struct LocalizeOptions {
  ImageLimits image_limits;
  // DENSE runs the trunk at native resolution, so its memory grows with the image: every 32-channel activation of a
  // 1 Mpixel image is 128 MiB. Larger images are RESOURCE_EXHAUSTED.
  int64_t max_dense_pixels = int64_t{1} << 20;
  // The answer's size and the dense work, checked before any work.
  LocalizeLimits limits;
};

// The server's request limits as Localize needs them: its image limits and its message limit.
LocalizeOptions LocalizeOptionsFor(const ClassifyOptions& options);

inline constexpr float kDefaultScoreThreshold = 0.5f;
inline constexpr float kDefaultNmsIou = 0.3f;
inline constexpr int64_t kLocalizePredictions = 5;
// Classes mapped when the request names none and leaves top_k unset: CAM and Grad-CAM scale every map to a peak of 1,
// so they map only the best class. DENSE maps every non-background class of a model with few of them (a 10-class
// scene model mapped to its top 5 loses objects: pointing game 97.8% → 94.3% on 100 generated scenes) and the top 5
// of a model with more (1,000 ImageNet maps and overlays do not fit a message).
inline constexpr int64_t kDefaultAttributionTopK = 1;
inline constexpr int64_t kDefaultDenseTopK = 5;
inline constexpr int64_t kDenseEveryClassUpTo = 32;
// `auto` picks DENSE when the image holds at least this many model inputs side by side in each dimension.
inline constexpr int64_t kAutoDenseInputsPerSide = 2;
// How strongly a heatmap covers the image in an overlay (0 = only the image, 1 = only the heatmap).
inline constexpr float kOverlayAlpha = 0.45f;

// Answers `request` with `model` into `response`. Errors: INVALID_ARGUMENT (bad image, unknown class, top_k below 1,
// negative or incompatible stride, threshold outside [0, 1], image smaller than the model input for DENSE),
// RESOURCE_EXHAUSTED (image over the byte, pixel or dense-pixel limits; an answer or dense pass over
// options.limits, refused before any engine work), FAILED_PRECONDITION (the method does not fit this model).
Status LocalizeImage(const ServedModel& model, const v1::LocalizeRequest& request, const LocalizeOptions& options,
                     v1::LocalizeResponse& response);

}  // namespace fovea::server
