#include "server/api/oip_inputs.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "server/api/image_pipeline.h"

namespace fovea::server {
namespace {

static_assert(std::endian::native == std::endian::little, "raw tensor contents are little-endian on the wire");

using InputTensor = oip::ModelInferRequest::InferInputTensor;

constexpr int64_t kImageBatchRank = 4;  // [N, C, H, W] floats or [N, H, W, C] pixels
constexpr size_t kLengthPrefixBytes = 4;
constexpr uint32_t kMaxPixelValue = 255;
constexpr char kFp32[] = "FP32";
constexpr char kUint8[] = "UINT8";
constexpr char kBytes[] = "BYTES";

// The request's one input and, when the request uses raw contents, its bytes (nullptr: typed contents).
struct InputView {
  const InputTensor& tensor;
  const std::string* raw;
};

engine::Shape ShapeOf(const InputTensor& tensor) { return {tensor.shape().begin(), tensor.shape().end()}; }

Status InputError(const InputTensor& tensor, const std::string& problem) {
  return InvalidArgument("input '" + tensor.name() + "' " + problem);
}

StatusOr<InputView> FindInput(const ServedModel& model, const oip::ModelInferRequest& request) {
  const std::string& expected = model.model->graph().inputs[0].name;
  if (request.inputs_size() != 1) {
    return InvalidArgument("model '" + model.name + "' takes one input, '" + expected + "'; the request has " +
                           std::to_string(request.inputs_size()));
  }
  const InputTensor& tensor = request.inputs(0);
  if (tensor.name() != expected) {
    return InvalidArgument("unexpected input '" + tensor.name() + "'; model '" + model.name + "' takes one input, '" +
                           expected + "'");
  }
  if (request.raw_input_contents().empty()) return InputView{tensor, nullptr};
  if (request.raw_input_contents_size() != request.inputs_size()) {
    return InvalidArgument("raw_input_contents has " + std::to_string(request.raw_input_contents_size()) +
                           " entries for " + std::to_string(request.inputs_size()) + " input(s)");
  }
  if (tensor.has_contents()) {
    return InputError(tensor, "has both contents and raw_input_contents; send its elements in one of them");
  }
  return InputView{tensor, &request.raw_input_contents(0)};
}

// The batch size (shape[0]) after the shape's own checks, held to the per-request image limit.
StatusOr<int64_t> BatchSize(const InputTensor& tensor, const ClassifyOptions& options) {
  const int64_t batch = tensor.shape(0);
  if (batch > options.max_images_per_request) {
    return ResourceExhausted("input '" + tensor.name() + "' has a batch of " + std::to_string(batch) +
                             " images, over the limit of " + std::to_string(options.max_images_per_request));
  }
  return batch;
}

bool AllPositive(const engine::Shape& shape) {
  for (int64_t dim : shape) {
    if (dim <= 0) return false;
  }
  return true;
}

// Checks that `available` elements arrived where the shape needs `expected`; `where` names the field.
Status CheckElementCount(const InputTensor& tensor, size_t available, size_t expected, const std::string& where) {
  if (available == expected) return OkStatus();
  return InputError(tensor, "of shape " + engine::ShapeToString(ShapeOf(tensor)) + " needs " +
                                std::to_string(expected) + " " + where + ", got " + std::to_string(available));
}

StatusOr<engine::Tensor> ConvertFloat(const InputView& input, const InputSpec& spec, const ClassifyOptions& options) {
  const engine::Shape shape = ShapeOf(input.tensor);
  const engine::Shape image_shape = spec.ImageShape();
  if (shape.size() != kImageBatchRank || shape[0] <= 0 ||
      !std::equal(image_shape.begin(), image_shape.end(), shape.begin() + 1)) {
    std::string expected = engine::ShapeToString(image_shape);
    expected.replace(0, 1, "[N, ");
    return InputError(input.tensor,
                      "of datatype FP32 must have shape " + expected + ", got " + engine::ShapeToString(shape));
  }
  FOVEA_ASSIGN_OR_RETURN(const int64_t batch, BatchSize(input.tensor, options));
  engine::Tensor images(engine::DataType::kFloat32, spec.BatchShape(batch));
  const size_t count = static_cast<size_t>(images.num_elements());
  if (input.raw != nullptr) {
    FOVEA_RETURN_IF_ERROR(
        CheckElementCount(input.tensor, input.raw->size(), count * sizeof(float), "bytes in raw_input_contents"));
    std::memcpy(images.raw_data(), input.raw->data(), input.raw->size());
  } else {
    const auto& values = input.tensor.contents().fp32_contents();
    FOVEA_RETURN_IF_ERROR(
        CheckElementCount(input.tensor, static_cast<size_t>(values.size()), count, "values in contents.fp32_contents"));
    std::memcpy(images.raw_data(), values.data(), count * sizeof(float));
  }
  FOVEA_RETURN_IF_ERROR(CheckFinite(images.floats()).WithContext("input '" + input.tensor.name() + "'"));
  return images;
}

// The pixel bytes of a UINT8 input: a view of the raw contents, or the typed values narrowed into `storage`.
StatusOr<std::string_view> PixelBytes(const InputView& input, size_t count, std::string& storage) {
  if (input.raw != nullptr) {
    FOVEA_RETURN_IF_ERROR(CheckElementCount(input.tensor, input.raw->size(), count, "bytes in raw_input_contents"));
    return std::string_view(*input.raw);
  }
  const auto& values = input.tensor.contents().uint_contents();
  FOVEA_RETURN_IF_ERROR(
      CheckElementCount(input.tensor, static_cast<size_t>(values.size()), count, "values in contents.uint_contents"));
  storage.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const uint32_t value = values[static_cast<int>(i)];
    if (value > kMaxPixelValue) {
      return InputError(input.tensor, "uint_contents element " + std::to_string(i) + " is " + std::to_string(value) +
                                          ", over the UINT8 maximum of 255");
    }
    storage[i] = static_cast<char>(value);
  }
  return std::string_view(storage);
}

StatusOr<engine::Tensor> ConvertPixels(const InputView& input, const InputSpec& spec, const ClassifyOptions& options) {
  const engine::Shape shape = ShapeOf(input.tensor);
  if (shape.size() != kImageBatchRank || !AllPositive(shape) || !IsSupportedChannelCount(shape[3])) {
    return InputError(input.tensor,
                      "of datatype UINT8 must have shape [N, height, width, channels] with 1, 3 or 4 channels, got " +
                          engine::ShapeToString(shape));
  }
  FOVEA_ASSIGN_OR_RETURN(const int64_t batch, BatchSize(input.tensor, options));
  const int64_t height = shape[1];
  const int64_t width = shape[2];
  const int64_t channels = shape[3];
  FOVEA_RETURN_IF_ERROR(
      CheckPixelCount(height, width, options.image_limits).WithContext("input '" + input.tensor.name() + "'"));
  // The pixel limit bounds height * width, so the per-image and total counts cannot overflow.
  const auto image_bytes = static_cast<size_t>(height * width * channels);
  std::string storage;
  FOVEA_ASSIGN_OR_RETURN(const std::string_view pixels,
                         PixelBytes(input, image_bytes * static_cast<size_t>(batch), storage));

  engine::Tensor images(engine::DataType::kFloat32, spec.BatchShape(batch));
  const auto image_elements = static_cast<size_t>(spec.num_elements());
  for (int64_t i = 0; i < batch; ++i) {
    imageio::Image image{width, height, channels, {}};
    const std::string_view slice = pixels.substr(static_cast<size_t>(i) * image_bytes, image_bytes);
    image.pixels.assign(slice.begin(), slice.end());
    const std::span<float> slot = images.floats().subspan(static_cast<size_t>(i) * image_elements, image_elements);
    FOVEA_RETURN_IF_ERROR(
        PreparePixels(image, spec, slot).WithContext("input '" + input.tensor.name() + "' image " + std::to_string(i)));
  }
  return images;
}

StatusOr<engine::Tensor> ConvertEncoded(const InputView& input, const InputSpec& spec, const ClassifyOptions& options) {
  const engine::Shape shape = ShapeOf(input.tensor);
  if (shape.empty() || shape.size() > 2 || !AllPositive(shape) || (shape.size() == 2 && shape[1] != 1)) {
    return InputError(input.tensor,
                      "of datatype BYTES must have shape [N] or [N, 1] (one encoded PNG/JPEG per image), got " +
                          engine::ShapeToString(shape));
  }
  FOVEA_ASSIGN_OR_RETURN(const int64_t batch, BatchSize(input.tensor, options));
  std::vector<std::string_view> elements;
  if (input.raw != nullptr) {
    StatusOr<std::vector<std::string_view>> split = SplitBytesElements(*input.raw, batch);
    if (!split.ok()) return split.status().WithContext("input '" + input.tensor.name() + "' raw_input_contents");
    elements = std::move(*split);
  } else {
    const auto& values = input.tensor.contents().bytes_contents();
    FOVEA_RETURN_IF_ERROR(CheckElementCount(input.tensor, static_cast<size_t>(values.size()),
                                            static_cast<size_t>(batch), "images in contents.bytes_contents"));
    elements.assign(values.begin(), values.end());
  }

  engine::Tensor images(engine::DataType::kFloat32, spec.BatchShape(batch));
  const auto image_elements = static_cast<size_t>(spec.num_elements());
  for (size_t i = 0; i < elements.size(); ++i) {
    const std::span<float> slot = images.floats().subspan(i * image_elements, image_elements);
    FOVEA_RETURN_IF_ERROR(PrepareEncodedImage(elements[i], spec, options.image_limits, slot)
                              .WithContext("input '" + input.tensor.name() + "' image " + std::to_string(i)));
  }
  return images;
}

}  // namespace

StatusOr<engine::Tensor> ConvertInferInput(const ServedModel& model, const oip::ModelInferRequest& request,
                                           const ClassifyOptions& options) {
  FOVEA_ASSIGN_OR_RETURN(const InputView input, FindInput(model, request));
  const InputSpec spec = ModelInputSpec(model);
  const std::string& datatype = input.tensor.datatype();
  if (datatype == kFp32) return ConvertFloat(input, spec, options);
  if (datatype == kUint8) return ConvertPixels(input, spec, options);
  if (datatype == kBytes) return ConvertEncoded(input, spec, options);
  return InputError(input.tensor, "has datatype '" + datatype +
                                      "'; expected FP32 [N, C, H, W] model input, UINT8 [N, height, width, channels] "
                                      "pixels or BYTES [N] encoded PNG/JPEG images");
}

StatusOr<std::vector<std::string_view>> SplitBytesElements(std::string_view raw, int64_t expected_count) {
  std::vector<std::string_view> elements;
  size_t offset = 0;
  while (offset < raw.size()) {
    const std::string index = std::to_string(elements.size());
    if (static_cast<int64_t>(elements.size()) == expected_count) {
      return InvalidArgument("holds more than the " + std::to_string(expected_count) + " BYTES elements of its shape");
    }
    if (raw.size() - offset < kLengthPrefixBytes) {
      return InvalidArgument("BYTES element " + index + " is cut off in its 4-byte length prefix");
    }
    uint32_t length = 0;
    std::memcpy(&length, raw.data() + offset, kLengthPrefixBytes);
    offset += kLengthPrefixBytes;
    if (length > raw.size() - offset) {
      return InvalidArgument("BYTES element " + index + " declares " + std::to_string(length) + " bytes but only " +
                             std::to_string(raw.size() - offset) + " remain");
    }
    elements.push_back(raw.substr(offset, length));
    offset += length;
  }
  if (static_cast<int64_t>(elements.size()) != expected_count) {
    return InvalidArgument("holds " + std::to_string(elements.size()) + " BYTES elements, its shape needs " +
                           std::to_string(expected_count));
  }
  return elements;
}

void AppendBytesElement(std::string_view element, std::string& raw) {
  const auto length = static_cast<uint32_t>(element.size());
  raw.append(reinterpret_cast<const char*>(&length), kLengthPrefixBytes);
  raw.append(element);
}

}  // namespace fovea::server
