#include "server/classifier.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/tensor.h"
#include "server/grpc_status.h"

namespace fovea::server {
namespace {

// The top_k the request asks for, or an error naming the valid range.
StatusOr<int64_t> ResolveTopK(const v1::ClassifyRequest& request, int64_t num_classes) {
  if (!request.has_top_k()) return std::min(kDefaultTopK, num_classes);
  const int64_t top_k = request.top_k();
  if (top_k <= 0 || top_k > num_classes) {
    return InvalidArgument("top_k " + std::to_string(top_k) + " is outside [1, " + std::to_string(num_classes) +
                           "] (the model has " + std::to_string(num_classes) + " classes)");
  }
  return top_k;
}

Status ValidateRequest(const v1::ClassifyRequest& request, const ClassifyOptions& options) {
  if (request.images().empty()) return InvalidArgument("request has no images");
  if (request.images_size() > options.max_images_per_request) {
    return ResourceExhausted("request has " + std::to_string(request.images_size()) + " images, over the limit of " +
                             std::to_string(options.max_images_per_request));
  }
  return OkStatus();
}

void SetImageError(v1::ImageResult& result, int index, const Status& status) {
  v1::ImageError* error = result.mutable_error();
  error->set_code(static_cast<int32_t>(ToGrpcCode(status.code())));
  error->set_message("image " + std::to_string(index) + (result.id().empty() ? "" : " (" + result.id() + ")") + ": " +
                     status.message());
}

// A single mean/std value in the metadata applies to every channel; imageio wants one entry per channel.
std::vector<float> PerChannel(const std::vector<float>& values, int64_t channels) {
  if (values.size() != 1) return values;
  return std::vector<float>(static_cast<size_t>(channels), values[0]);
}

}  // namespace

InputSpec InputSpecOf(const ServedModel& model) {
  const engine::ModelMetadata& metadata = model.model->metadata();
  return {model.channels, model.height, model.width, PerChannel(metadata.mean, model.channels),
          PerChannel(metadata.std, model.channels)};
}

namespace {

// Runs the first good_images.size() images packed in `staging` (a shared handle) as one batch and fills their
// predictions.
Status RunBatch(const ServedModel& model, engine::Tensor staging, const std::vector<int>& good_images, int64_t top_k,
                v1::ClassifyResponse& response) {
  const auto batch = static_cast<int64_t>(good_images.size());
  engine::Shape batch_shape = staging.shape();
  batch_shape[0] = batch;
  // A view of the packed front of the staging buffer; the shared handle keeps that buffer alive.
  const engine::Tensor input = engine::Tensor::Wrap(engine::DataType::kFloat32, batch_shape, staging.raw_data(),
                                                    std::make_shared<const engine::Tensor>(staging));
  StatusOr<std::vector<engine::Tensor>> outputs = model.session->Run({&input, 1});
  if (!outputs.ok()) return outputs.status().WithContext("model '" + model.name + "'");
  const engine::Tensor& scores = (*outputs)[0];
  if (scores.rank() != 2 || scores.dim(0) != batch || scores.dim(1) != model.num_classes) {
    return Internal("model '" + model.name + "' returned scores of shape " + engine::ShapeToString(scores.shape()));
  }
  const auto num_classes = static_cast<size_t>(model.num_classes);
  for (size_t row = 0; row < good_images.size(); ++row) {
    v1::ImageResult* result = response.mutable_results(good_images[row]);
    const auto top =
        TopClasses(scores.floats().subspan(row * num_classes, num_classes), top_k, model.outputs_probabilities);
    for (const auto& [index, probability] : top) {
      v1::Prediction* prediction = result->add_predictions();
      prediction->set_class_index(index);
      prediction->set_label(model.model->Label(index));
      prediction->set_probability(probability);
    }
  }
  return OkStatus();
}

}  // namespace

std::vector<float> ToProbabilities(std::span<const float> scores, bool already_probabilities) {
  std::vector<float> probabilities(scores.begin(), scores.end());
  if (!already_probabilities && !probabilities.empty()) {
    // Subtracting the max keeps exp() from overflowing on large logits.
    const float max_score = *std::max_element(probabilities.begin(), probabilities.end());
    float sum = 0.0F;
    for (float& p : probabilities) sum += (p = std::exp(p - max_score));
    for (float& p : probabilities) p /= sum;
  }
  return probabilities;
}

std::vector<std::pair<int64_t, float>> TopClasses(std::span<const float> scores, int64_t k,
                                                  bool already_probabilities) {
  const std::vector<float> probabilities = ToProbabilities(scores, already_probabilities);
  std::vector<int64_t> order(probabilities.size());
  std::iota(order.begin(), order.end(), 0);
  const auto count = static_cast<size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(order.size())));
  // Ties go to the lower class index so answers are deterministic.
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count), order.end(),
                    [&](int64_t a, int64_t b) {
                      const float pa = probabilities[static_cast<size_t>(a)];
                      const float pb = probabilities[static_cast<size_t>(b)];
                      return pa > pb || (pa == pb && a < b);
                    });
  std::vector<std::pair<int64_t, float>> top;
  top.reserve(count);
  for (size_t i = 0; i < count; ++i) top.emplace_back(order[i], probabilities[static_cast<size_t>(order[i])]);
  return top;
}

Status ClassifyImages(const ServedModel& model, const v1::ClassifyRequest& request, const ClassifyOptions& options,
                      v1::ClassifyResponse& response) {
  FOVEA_RETURN_IF_ERROR(ValidateRequest(request, options));
  FOVEA_ASSIGN_OR_RETURN(const int64_t top_k, ResolveTopK(request, model.num_classes));
  response.set_model_name(model.name);
  response.set_model_version(model.version);

  // Decode straight into the batch tensor; failed images leave their slot unused and drop out below.
  const InputSpec spec = InputSpecOf(model);
  const auto image_elements = static_cast<size_t>(spec.num_elements());
  engine::Tensor staging(engine::DataType::kFloat32, {request.images_size(), spec.channels, spec.height, spec.width});
  std::vector<int> good_images;
  for (int i = 0; i < request.images_size(); ++i) {
    v1::ImageResult* result = response.add_results();
    result->set_id(request.images(i).id());
    const std::span<float> slot = staging.floats().subspan(good_images.size() * image_elements, image_elements);
    const Status status = PrepareImage(request.images(i), spec, options.image_limits, slot);
    if (status.ok()) {
      good_images.push_back(i);
    } else {
      SetImageError(*result, i, status);
    }
  }
  if (good_images.empty()) return OkStatus();

  return RunBatch(model, staging, good_images, top_k, response);
}

}  // namespace fovea::server
