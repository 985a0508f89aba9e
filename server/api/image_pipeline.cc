#include "server/api/image_pipeline.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "engine/tensor.h"
#include "imageio/image.h"

namespace fovea::server {
namespace {

static_assert(std::endian::native == std::endian::little, "raw float tensors are little-endian on the wire");

constexpr int64_t kPixelTensorRank = 3;  // [height, width, channels]
constexpr int64_t kFloatTensorRank = 3;  // [channels, height, width]

std::string Bytes(size_t count) { return std::to_string(count) + " bytes"; }

StatusOr<imageio::Image> DecodeEncoded(std::string_view bytes, const ImageLimits& limits) {
  if (bytes.empty()) return InvalidArgument("encoded image is empty");
  if (bytes.size() > limits.max_image_bytes) {
    return ResourceExhausted("encoded image is " + Bytes(bytes.size()) + ", over the limit of " +
                             Bytes(limits.max_image_bytes));
  }
  imageio::DecodeLimits decode_limits;
  decode_limits.max_encoded_bytes = limits.max_image_bytes;
  decode_limits.max_pixels = limits.max_image_pixels;
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return imageio::Decode(data, decode_limits);
}

// The shorter side to `side`, the longer one in proportion (truncated, as torchvision computes it).
imageio::Image ResizeShorterSide(const imageio::Image& image, int64_t side) {
  const bool portrait = image.width <= image.height;
  const int64_t shorter = portrait ? image.width : image.height;
  const int64_t longer = portrait ? image.height : image.width;
  const auto resized_longer =
      static_cast<int64_t>(static_cast<double>(side) * static_cast<double>(longer) / static_cast<double>(shorter));
  const int64_t width = portrait ? side : resized_longer;
  const int64_t height = portrait ? resized_longer : side;
  if (width == image.width && height == image.height) return image;
  return imageio::ResizeTriangle(image, width, height);
}

// `image` brought to the model's height x width by the spec's resize mode.
imageio::Image ResizeForModel(const imageio::Image& image, const InputSpec& spec) {
  if (spec.preprocessing.resize == ResizeMode::kCrop) {
    return imageio::CropCenter(ResizeShorterSide(image, spec.preprocessing.shorter_side), spec.width, spec.height);
  }
  return imageio::Resize(image, spec.width, spec.height);
}

}  // namespace

std::vector<int64_t> InputSpec::ImageShape() const {
  return preprocessing.nhwc ? std::vector<int64_t>{height, width, channels}
                            : std::vector<int64_t>{channels, height, width};
}

std::vector<int64_t> InputSpec::BatchShape(int64_t count) const {
  std::vector<int64_t> shape = ImageShape();
  shape.insert(shape.begin(), count);
  return shape;
}

bool IsSupportedChannelCount(int64_t channels) { return channels == 1 || channels == 3 || channels == 4; }

Status PreparePixels(const imageio::Image& image, const InputSpec& spec, std::span<float> dst) {
  if (!IsSupportedChannelCount(spec.channels)) {
    return InvalidArgument("the model takes " + std::to_string(spec.channels) +
                           "-channel input, which only a DATA_TYPE_FLOAT32 tensor can provide");
  }
  const imageio::Image* current = &image;
  imageio::Image converted;
  if (current->channels != spec.channels) {
    converted = imageio::ConvertChannels(*current, spec.channels);
    current = &converted;
  }
  imageio::Image resized;
  // The crop mode resizes and crops even an image of the model's size, as torchvision's transform does.
  if (current->width != spec.width || current->height != spec.height ||
      spec.preprocessing.resize == ResizeMode::kCrop) {
    resized = ResizeForModel(*current, spec);
    current = &resized;
  }
  if (spec.preprocessing.bgr) {
    if (current != &resized) resized = *current;
    imageio::SwapRedBlue(resized);
    current = &resized;
  }
  if (spec.preprocessing.nhwc) {
    imageio::ToInterleavedFloat(*current, spec.mean, spec.std, dst.data());
  } else {
    imageio::ToPlanarFloat(*current, spec.mean, spec.std, dst.data());
  }
  return OkStatus();
}

Status PrepareEncodedImage(std::string_view bytes, const InputSpec& spec, const ImageLimits& limits,
                           std::span<float> dst) {
  FOVEA_ASSIGN_OR_RETURN(imageio::Image image, DecodeEncoded(bytes, limits));
  return PreparePixels(image, spec, dst);
}

Status CheckPixelCount(int64_t height, int64_t width, const ImageLimits& limits) {
  int64_t pixels = 0;
  if (__builtin_mul_overflow(height, width, &pixels) || pixels > limits.max_image_pixels) {
    // Same code as imageio's header check for an encoded image of this size: a configured limit, not a bad value.
    return ResourceExhausted("image is " + std::to_string(width) + "x" + std::to_string(height) +
                             " pixels, over the limit of " + std::to_string(limits.max_image_pixels));
  }
  return OkStatus();
}

Status CheckFinite(std::span<const float> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return InvalidArgument("tensor element " + std::to_string(i) + " is " +
                             (std::isnan(values[i]) ? "NaN" : "infinite"));
    }
  }
  return OkStatus();
}

namespace {

// product(shape) with every dimension positive and no overflow, or an error naming the shape.
StatusOr<int64_t> CheckedElementCount(const v1::RawTensor& tensor) {
  const engine::Shape shape(tensor.shape().begin(), tensor.shape().end());
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim <= 0)
      return InvalidArgument("tensor shape " + engine::ShapeToString(shape) + " has a non-positive dimension");
    if (__builtin_mul_overflow(count, dim, &count)) {
      return ResourceExhausted("tensor shape " + engine::ShapeToString(shape) + " is too large");
    }
  }
  return count;
}

Status CheckByteCount(const v1::RawTensor& tensor, int64_t elements, size_t element_size) {
  const engine::Shape shape(tensor.shape().begin(), tensor.shape().end());
  const size_t expected = static_cast<size_t>(elements) * element_size;
  if (tensor.data().size() != expected) {
    return InvalidArgument("tensor data has " + Bytes(tensor.data().size()) + " but shape " +
                           engine::ShapeToString(shape) + " of " + v1::DataType_Name(tensor.dtype()) + " needs " +
                           Bytes(expected));
  }
  return OkStatus();
}

StatusOr<imageio::Image> PixelTensorImage(const v1::RawTensor& tensor, const ImageLimits& limits) {
  if (tensor.shape_size() != kPixelTensorRank || !IsSupportedChannelCount(tensor.shape(2))) {
    return InvalidArgument(
        "a DATA_TYPE_UINT8 tensor must have shape [height, width, channels] with 1, 3 or 4 channels");
  }
  FOVEA_ASSIGN_OR_RETURN(int64_t elements, CheckedElementCount(tensor));
  FOVEA_RETURN_IF_ERROR(CheckPixelCount(tensor.shape(0), tensor.shape(1), limits));
  FOVEA_RETURN_IF_ERROR(CheckByteCount(tensor, elements, sizeof(uint8_t)));
  imageio::Image image;
  image.height = tensor.shape(0);
  image.width = tensor.shape(1);
  image.channels = tensor.shape(2);
  image.pixels.assign(tensor.data().begin(), tensor.data().end());
  return image;
}

Status CheckFloatTensorShape(const v1::RawTensor& tensor, const InputSpec& spec) {
  const engine::Shape shape(tensor.shape().begin(), tensor.shape().end());
  const engine::Shape expected = spec.ImageShape();
  if (tensor.shape_size() != kFloatTensorRank || shape != expected) {
    return InvalidArgument("a DATA_TYPE_FLOAT32 tensor must have the model's input shape " +
                           engine::ShapeToString(expected) + ", got " + engine::ShapeToString(shape));
  }
  return CheckByteCount(tensor, spec.num_elements(), sizeof(float));
}

Status PrepareFloatTensor(const v1::RawTensor& tensor, const InputSpec& spec, std::span<float> dst) {
  FOVEA_RETURN_IF_ERROR(CheckFloatTensorShape(tensor, spec));
  std::memcpy(dst.data(), tensor.data().data(), tensor.data().size());
  return CheckFinite(dst);
}

Status CheckTensorBytes(const v1::RawTensor& tensor, const ImageLimits& limits) {
  if (tensor.data().size() > limits.max_image_bytes) {
    return ResourceExhausted("tensor data is " + Bytes(tensor.data().size()) + ", over the limit of " +
                             Bytes(limits.max_image_bytes));
  }
  return OkStatus();
}

Status PrepareTensor(const v1::RawTensor& tensor, const InputSpec& spec, const ImageLimits& limits,
                     std::span<float> dst) {
  FOVEA_RETURN_IF_ERROR(CheckTensorBytes(tensor, limits));
  switch (tensor.dtype()) {
    case v1::DATA_TYPE_UINT8: {
      FOVEA_ASSIGN_OR_RETURN(imageio::Image image, PixelTensorImage(tensor, limits));
      return PreparePixels(image, spec, dst);
    }
    case v1::DATA_TYPE_FLOAT32:
      return PrepareFloatTensor(tensor, spec, dst);
    default:
      return InvalidArgument("tensor dtype " + std::to_string(tensor.dtype()) +
                             " is not supported; use DATA_TYPE_UINT8 pixels or DATA_TYPE_FLOAT32 model input");
  }
}

}  // namespace

StatusOr<std::span<const float>> FloatTensorView(const v1::RawTensor& tensor, const InputSpec& spec,
                                                 const ImageLimits& limits) {
  FOVEA_RETURN_IF_ERROR(CheckTensorBytes(tensor, limits));
  if (tensor.dtype() != v1::DATA_TYPE_FLOAT32) return InvalidArgument("tensor is not DATA_TYPE_FLOAT32");
  FOVEA_RETURN_IF_ERROR(CheckFloatTensorShape(tensor, spec));
  const char* bytes = tensor.data().data();
  if (reinterpret_cast<uintptr_t>(bytes) % alignof(float) != 0) {
    return FailedPrecondition("tensor bytes are not aligned for float reads");
  }
  const std::span<const float> values(reinterpret_cast<const float*>(bytes), static_cast<size_t>(spec.num_elements()));
  FOVEA_RETURN_IF_ERROR(CheckFinite(values));
  return values;
}

Status PrepareImage(const v1::ImageInput& input, const InputSpec& spec, const ImageLimits& limits,
                    std::span<float> dst) {
  switch (input.data_case()) {
    case v1::ImageInput::kEncoded:
      return PrepareEncodedImage(input.encoded(), spec, limits, dst);
    case v1::ImageInput::kTensor:
      return PrepareTensor(input.tensor(), spec, limits, dst);
    case v1::ImageInput::DATA_NOT_SET:
      break;
  }
  return InvalidArgument("image has neither encoded bytes nor a tensor");
}

StatusOr<imageio::Image> DecodePixels(const v1::ImageInput& input, const ImageLimits& limits) {
  switch (input.data_case()) {
    case v1::ImageInput::kEncoded:
      return DecodeEncoded(input.encoded(), limits);
    case v1::ImageInput::kTensor:
      if (input.tensor().data().size() > limits.max_image_bytes) {
        return ResourceExhausted("tensor data is " + Bytes(input.tensor().data().size()) + ", over the limit of " +
                                 Bytes(limits.max_image_bytes));
      }
      if (input.tensor().dtype() != v1::DATA_TYPE_UINT8) {
        return InvalidArgument("localization takes encoded bytes or a DATA_TYPE_UINT8 pixel tensor; a " +
                               v1::DataType_Name(input.tensor().dtype()) + " tensor has no native resolution");
      }
      return PixelTensorImage(input.tensor(), limits);
    case v1::ImageInput::DATA_NOT_SET:
      break;
  }
  return InvalidArgument("image has neither encoded bytes nor a tensor");
}

}  // namespace fovea::server
