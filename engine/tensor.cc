#include "engine/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

namespace fovea::engine {
namespace {

constexpr size_t kTensorAlignment = 64;

std::shared_ptr<void> AllocateAligned(size_t bytes) {
  const size_t rounded = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  void* p = std::aligned_alloc(kTensorAlignment, rounded == 0 ? kTensorAlignment : rounded);
  if (p == nullptr) throw std::bad_alloc();
  std::memset(p, 0, rounded == 0 ? kTensorAlignment : rounded);
  return {p, [](void* q) { std::free(q); }};
}

}  // namespace

const char* DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kInt64:
      return "int64";
    case DataType::kUint8:
      return "uint8";
    case DataType::kInt8:
      return "int8";
    case DataType::kBool:
      return "bool";
  }
  return "unknown";
}

size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return sizeof(float);
    case DataType::kInt64:
      return sizeof(int64_t);
    case DataType::kUint8:
      return sizeof(uint8_t);
    case DataType::kInt8:
      return sizeof(int8_t);
    case DataType::kBool:
      return sizeof(bool);
  }
  return 0;
}

int64_t NumElements(const Shape& shape) {
  // A zero dimension makes the product zero. Checking it first keeps shapes that hold no data but have huge other
  // dimensions (the importer allows them, e.g. [2^60, 5890, 0]) from overflowing on the way (found by fuzzing).
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

Tensor::Tensor(DataType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  auto buffer = AllocateAligned(byte_size());
  data_ = buffer.get();
  owner_ = std::move(buffer);
}

Tensor Tensor::FromFloats(Shape shape, std::span<const float> values) {
  Tensor t(DataType::kFloat32, std::move(shape));
  // memcpy from an empty span's null pointer is undefined even for zero bytes.
  if (!values.empty()) std::memcpy(t.data_, values.data(), std::min(values.size_bytes(), t.byte_size()));
  return t;
}

Tensor Tensor::FromInt64s(Shape shape, std::span<const int64_t> values) {
  Tensor t(DataType::kInt64, std::move(shape));
  // memcpy from an empty span's null pointer is undefined even for zero bytes.
  if (!values.empty()) std::memcpy(t.data_, values.data(), std::min(values.size_bytes(), t.byte_size()));
  return t;
}

Tensor Tensor::Wrap(DataType dtype, Shape shape, void* data, std::shared_ptr<const void> owner) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.data_ = data;
  t.owner_ = std::move(owner);
  return t;
}

StatusOr<Tensor> Tensor::Reshaped(Shape shape) const {
  if (NumElements(shape) != num_elements()) {
    return InvalidArgument("cannot reshape " + ShapeToString(shape_) + " to " + ShapeToString(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t(dtype_, shape_);
  if (byte_size() > 0) std::memcpy(t.data_, data_, byte_size());
  return t;
}

}  // namespace fovea::engine
