#pragma once
// Classify: the engine-facing core of the Classify RPC, free of gRPC so it can be tested directly.

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/status.h"
#include "fovea/v1/inference.pb.h"
#include "server/image_pipeline.h"
#include "server/model_repository.h"

namespace fovea::server {

// Server-wide limits a Classify call is held to.
struct ClassifyOptions {
  ImageLimits image_limits;
  int64_t max_images_per_request = 1024;
};

// top_k when the request leaves it unset (capped at the class count).
inline constexpr int64_t kDefaultTopK = 5;

// Answers `request` with `model` into `response`. Request-level problems (no images, too many, bad top_k) fail the
// call; a bad image gets its own error in its result while the others are answered. The good images run through the
// engine as one batch.
Status ClassifyImages(const ServedModel& model, const v1::ClassifyRequest& request, const ClassifyOptions& options,
                      v1::ClassifyResponse& response);

// The model input one image becomes: the model's geometry with its mean/std expanded to one value per channel.
InputSpec InputSpecOf(const ServedModel& model);

// One row of scores as probabilities: a copy when `already_probabilities`, otherwise their softmax.
std::vector<float> ToProbabilities(std::span<const float> scores, bool already_probabilities);

// The `k` most probable classes of one row of scores as (class index, probability), most probable first. When
// `already_probabilities` is false the scores are logits and go through a softmax first.
std::vector<std::pair<int64_t, float>> TopClasses(std::span<const float> scores, int64_t k, bool already_probabilities);

}  // namespace fovea::server
