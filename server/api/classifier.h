#pragma once
// Classify: the engine-facing core of the Classify RPC. It works on the proto messages, not on the gRPC service API, so
// tests and the fuzzer call it without a server; its only gRPC dependency is ToGrpcCode (server/grpc_status.h), the one
// mapping of our codes to gRPC codes, which gives each per-image error its google.rpc code.

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/tensor.h"
#include "fovea/v1/inference.pb.h"
#include "server/api/image_pipeline.h"
#include "server/models/model_repository.h"

namespace fovea::server {

// Server-wide limits a Classify call is held to.
struct ClassifyOptions {
  ImageLimits image_limits;
  int64_t max_images_per_request = 1024;
  // The largest gRPC message either way (--max-message-bytes); Localize sizes its answer against it before any work.
  size_t max_message_bytes = size_t{64} << 20;
  // The largest image a DENSE Localize maps (--max-dense-pixels; LocalizeOptions::max_dense_pixels).
  int64_t max_dense_pixels = int64_t{1} << 20;
};

// top_k when the request leaves it unset (capped at the class count).
inline constexpr int64_t kDefaultTopK = 5;

// The decoded images of one Classify request, ready for the engine.
struct PreparedClassify {
  // [good images, channels, height, width]; empty when every image failed. A request of one model-ready float32
  // tensor is not copied: `images` then borrows the request's bytes and is valid only while the request is.
  engine::Tensor images;
  std::vector<int> good_images;  // the request index of each row of `images`
  int64_t top_k = 0;
};

// Checks `request` against `options` and `model` (a classifier) and decodes its images. Request-level problems (no
// images, too many, bad top_k) fail the call; `response` gets the model's name and version and one result per image,
// with its own error for an image that cannot be used, so one bad image never fails the others. The result may borrow
// from `request` (see PreparedClassify).
StatusOr<PreparedClassify> PrepareClassify(const ServedModel& model, const v1::ClassifyRequest& request,
                                           const ClassifyOptions& options, v1::ClassifyResponse& response);

// Fills the predictions of the good images from `scores` (the model's first output: one row of num_classes scores per
// row of `prepared.images`, in order), turned into probabilities by the model's score activation.
Status FillPredictions(const ServedModel& model, const PreparedClassify& prepared, std::span<const float> scores,
                       v1::ClassifyResponse& response);

// What one image becomes for `model`: its input size and channels, with per-channel mean/std from its metadata.
InputSpec ModelInputSpec(const ServedModel& model);

// One row of scores through `activation`: their softmax, each one's sigmoid, or a copy.
std::vector<float> ToProbabilities(std::span<const float> scores, ScoreActivation activation);

// The `k` highest of one row of `values` as (index, value), highest first; ties go to the lower index. k is clamped
// to the row's size.
std::vector<std::pair<int64_t, float>> TopValues(std::span<const float> values, int64_t k);

}  // namespace fovea::server
