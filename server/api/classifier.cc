#include "server/api/classifier.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <numeric>
#include <optional>

#include "engine/tensor.h"
#include "server/transport/grpc/grpc_status.h"

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

// The engine's tensor buffers: 64-byte aligned (engine/tensor.cc).
constexpr std::align_val_t kBufferAlignment{64};

// `count` floats, uninitialized. Decoding writes every slot that is used, so zero-filling them first (what
// engine::Tensor's constructor does) would write the whole batch once more per request.
std::shared_ptr<float[]> UninitializedFloats(size_t count) {
  return {static_cast<float*>(::operator new[](count * sizeof(float), kBufferAlignment)),
          [](float* p) { ::operator delete[](p, kBufferAlignment); }};
}

// A request whose only image is a DATA_TYPE_FLOAT32 tensor runs straight from the request's bytes: gRPC keeps the
// request until the call is finished, which is after its batch has run. Returns nothing when that does not apply
// (the caller copies); otherwise the borrowing tensor, or an empty one after recording the image's error.
std::optional<engine::Tensor> BorrowLoneFloatTensor(const v1::ClassifyRequest& request, const InputSpec& spec,
                                                    const ImageLimits& limits, v1::ClassifyResponse& response) {
  const v1::ImageInput& image = request.images(0);
  if (request.images_size() != 1 || !image.has_tensor() || image.tensor().dtype() != v1::DATA_TYPE_FLOAT32) {
    return std::nullopt;
  }
  StatusOr<std::span<const float>> values = FloatTensorView(image.tensor(), spec, limits);
  if (values.status().code() == StatusCode::kFailedPrecondition) return std::nullopt;  // unaligned: copy instead
  v1::ImageResult* result = response.add_results();
  result->set_id(image.id());
  if (!values.ok()) {
    SetImageError(*result, 0, values.status());
    return engine::Tensor();
  }
  // The engine only reads its inputs; Wrap takes a mutable pointer because tensors are also used as outputs.
  return engine::Tensor::Wrap(engine::DataType::kFloat32, spec.BatchShape(1), const_cast<float*>(values->data()),
                              nullptr);
}

}  // namespace

InputSpec ModelInputSpec(const ServedModel& model) {
  const engine::ModelMetadata& metadata = model.model->metadata();
  return {model.channels,
          model.height,
          model.width,
          PerChannel(metadata.mean, model.channels),
          PerChannel(metadata.std, model.channels),
          model.preprocessing};
}

std::vector<float> ToProbabilities(std::span<const float> scores, ScoreActivation activation) {
  std::vector<float> probabilities(scores.begin(), scores.end());
  if (activation == ScoreActivation::kSigmoid) {
    for (float& p : probabilities) p = 1.0F / (1.0F + std::exp(-p));
  } else if (activation == ScoreActivation::kSoftmax && !probabilities.empty()) {
    // Subtracting the max keeps exp() from overflowing on large logits.
    const float max_score = *std::max_element(probabilities.begin(), probabilities.end());
    float sum = 0.0F;
    for (float& p : probabilities) sum += (p = std::exp(p - max_score));
    for (float& p : probabilities) p /= sum;
  }
  return probabilities;
}

std::vector<std::pair<int64_t, float>> TopValues(std::span<const float> values, int64_t k) {
  std::vector<int64_t> order(values.size());
  std::iota(order.begin(), order.end(), 0);
  const auto count = static_cast<size_t>(std::clamp<int64_t>(k, 0, static_cast<int64_t>(order.size())));
  // Ties go to the lower index so answers are deterministic.
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(count), order.end(),
                    [&](int64_t a, int64_t b) {
                      const float va = values[static_cast<size_t>(a)];
                      const float vb = values[static_cast<size_t>(b)];
                      return va > vb || (va == vb && a < b);
                    });
  std::vector<std::pair<int64_t, float>> top;
  top.reserve(count);
  for (size_t i = 0; i < count; ++i) top.emplace_back(order[i], values[static_cast<size_t>(order[i])]);
  return top;
}

StatusOr<PreparedClassify> PrepareClassify(const ServedModel& model, const v1::ClassifyRequest& request,
                                           const ClassifyOptions& options, v1::ClassifyResponse& response) {
  FOVEA_RETURN_IF_ERROR(RequireClassifier(model));
  FOVEA_RETURN_IF_ERROR(ValidateRequest(request, options));
  PreparedClassify prepared;
  FOVEA_ASSIGN_OR_RETURN(prepared.top_k, ResolveTopK(request, model.num_classes));
  response.set_model_name(model.name);
  response.set_model_version(model.version);

  const InputSpec spec = ModelInputSpec(model);
  if (std::optional<engine::Tensor> borrowed = BorrowLoneFloatTensor(request, spec, options.image_limits, response)) {
    prepared.images = std::move(*borrowed);
    if (prepared.images.has_data()) prepared.good_images.push_back(0);
    return prepared;
  }
  // Decode straight into the batch tensor; failed images leave their slot unused and drop out below.
  const auto image_elements = static_cast<size_t>(spec.num_elements());
  std::shared_ptr<float[]> staging = UninitializedFloats(static_cast<size_t>(request.images_size()) * image_elements);
  for (int i = 0; i < request.images_size(); ++i) {
    v1::ImageResult* result = response.add_results();
    result->set_id(request.images(i).id());
    const std::span<float> slot(staging.get() + prepared.good_images.size() * image_elements, image_elements);
    const Status status = PrepareImage(request.images(i), spec, options.image_limits, slot);
    if (status.ok()) {
      prepared.good_images.push_back(i);
    } else {
      SetImageError(*result, i, status);
    }
  }
  if (prepared.good_images.empty()) return prepared;
  // The packed front of the staging buffer, which the tensor keeps alive.
  const engine::Shape batch_shape = spec.BatchShape(static_cast<int64_t>(prepared.good_images.size()));
  float* front = staging.get();
  prepared.images = engine::Tensor::Wrap(engine::DataType::kFloat32, batch_shape, front, std::move(staging));
  return prepared;
}

Status FillPredictions(const ServedModel& model, const PreparedClassify& prepared, std::span<const float> scores,
                       v1::ClassifyResponse& response) {
  const auto num_classes = static_cast<size_t>(model.num_classes);
  if (scores.size() != prepared.good_images.size() * num_classes) {
    return Internal("model '" + model.name + "' returned " + std::to_string(scores.size()) + " scores for " +
                    std::to_string(prepared.good_images.size()) + " images of " + std::to_string(num_classes) +
                    " classes");
  }
  for (size_t row = 0; row < prepared.good_images.size(); ++row) {
    v1::ImageResult* result = response.mutable_results(prepared.good_images[row]);
    const std::vector<float> probabilities =
        ToProbabilities(scores.subspan(row * num_classes, num_classes), model.score_activation);
    const auto top = TopValues(probabilities, prepared.top_k);
    for (const auto& [index, probability] : top) {
      v1::Prediction* prediction = result->add_predictions();
      prediction->set_class_index(index);
      prediction->set_label(model.model->Label(index));
      prediction->set_probability(probability);
    }
  }
  return OkStatus();
}

}  // namespace fovea::server
