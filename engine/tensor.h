#pragma once
// Tensor: a dense, row-major (plain NCHW for images) array with a shape and a dtype. This is the engine's public
// currency; blocked oneDNN layouts never leave a Plan.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace fovea::engine {

// kUint8/kInt8 hold quantized values (ONNX QuantizeLinear/DequantizeLinear); Fovea's arithmetic is float32. kBool
// (one byte, 0 or 1) exists only as plan-time constants: the results of comparisons in shape arithmetic.
enum class DataType { kFloat32, kInt64, kUint8, kInt8, kBool };

const char* DataTypeName(DataType type);
size_t DataTypeSize(DataType type);

// Dimensions of a tensor, outermost first.
using Shape = std::vector<int64_t>;

// Number of elements in `shape` (1 for a scalar).
int64_t NumElements(const Shape& shape);
// "[8, 3, 224, 224]".
std::string ShapeToString(const Shape& shape);

// A tensor shares its buffer when copied (like a handle); Clone() makes a deep copy. The buffer is 64-byte aligned.
class Tensor {
 public:
  Tensor() = default;
  // A zero-filled tensor of the given dtype and shape.
  Tensor(DataType dtype, Shape shape);

  static Tensor FromFloats(Shape shape, std::span<const float> values);
  static Tensor FromInt64s(Shape shape, std::span<const int64_t> values);
  // A tensor over memory owned by `owner` (kept alive as long as the tensor); no copy.
  static Tensor Wrap(DataType dtype, Shape shape, void* data, std::shared_ptr<const void> owner);

  DataType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t num_elements() const { return NumElements(shape_); }
  size_t byte_size() const { return static_cast<size_t>(num_elements()) * DataTypeSize(dtype_); }
  // False for a default-constructed tensor (an absent optional input).
  bool has_data() const { return data_ != nullptr; }

  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }
  template <typename T>
  T* data() {
    return static_cast<T*>(data_);
  }
  template <typename T>
  const T* data() const {
    return static_cast<const T*>(data_);
  }
  std::span<float> floats() { return {data<float>(), static_cast<size_t>(num_elements())}; }
  std::span<const float> floats() const { return {data<float>(), static_cast<size_t>(num_elements())}; }
  std::span<const int64_t> int64s() const { return {data<int64_t>(), static_cast<size_t>(num_elements())}; }

  // Same buffer, new shape with the same element count.
  StatusOr<Tensor> Reshaped(Shape shape) const;
  Tensor Clone() const;

 private:
  DataType dtype_ = DataType::kFloat32;
  Shape shape_;
  std::shared_ptr<const void> owner_;
  void* data_ = nullptr;
};

}  // namespace fovea::engine
