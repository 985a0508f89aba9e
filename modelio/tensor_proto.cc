#include "modelio/tensor_proto.h"

#include <bit>
#include <cstring>

namespace fovea::modelio {
namespace {

// ONNX stores raw_data little-endian; copying it byte for byte is only right on a little-endian host.
static_assert(std::endian::native == std::endian::little, "raw_data decoding assumes a little-endian host");

using engine::DataType;
using engine::Tensor;

// Copies a typed repeated field (float_data, int64_data) into `tensor` after checking its length.
template <typename Field, typename T>
Status CopyTypedField(const Field& field, Tensor& tensor, const std::string& what) {
  const auto count = static_cast<int64_t>(field.size());
  if (count != tensor.num_elements()) {
    return InvalidArgument(what + " holds " + std::to_string(count) + " values but its dims " +
                           engine::ShapeToString(tensor.shape()) + " need " + std::to_string(tensor.num_elements()));
  }
  T* out = tensor.data<T>();
  for (int64_t i = 0; i < count; ++i) out[i] = static_cast<T>(field.Get(static_cast<int>(i)));
  return OkStatus();
}

Status CopyRawData(const std::string& raw, Tensor& tensor, const std::string& what) {
  if (raw.size() != tensor.byte_size()) {
    return InvalidArgument(what + " has " + std::to_string(raw.size()) + " bytes of raw_data but its dims " +
                           engine::ShapeToString(tensor.shape()) + " and dtype " + DataTypeName(tensor.dtype()) +
                           " need " + std::to_string(tensor.byte_size()));
  }
  if (!raw.empty()) std::memcpy(tensor.raw_data(), raw.data(), raw.size());
  return OkStatus();
}

std::string TensorLabel(const onnx::TensorProto& proto) {
  return proto.name().empty() ? std::string("tensor") : "tensor '" + proto.name() + "'";
}

}  // namespace

StatusOr<DataType> FromOnnxDataType(int32_t onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
      return DataType::kFloat32;
    case onnx::TensorProto::INT64:
      return DataType::kInt64;
    case onnx::TensorProto::UINT8:
      return DataType::kUint8;
    case onnx::TensorProto::INT8:
      return DataType::kInt8;
    case onnx::TensorProto::BOOL:
      return DataType::kBool;
    default:
      return Unimplemented("dtype " + OnnxDataTypeName(onnx_type) +
                           " is not supported (FLOAT, INT64, BOOL, and UINT8/INT8 for quantized tensors)");
  }
}

int32_t ToOnnxDataType(DataType type) {
  switch (type) {
    case DataType::kInt64:
      return onnx::TensorProto::INT64;
    case DataType::kUint8:
      return onnx::TensorProto::UINT8;
    case DataType::kInt8:
      return onnx::TensorProto::INT8;
    case DataType::kBool:
      return onnx::TensorProto::BOOL;
    case DataType::kFloat32:
      break;
  }
  return onnx::TensorProto::FLOAT;
}

std::string OnnxDataTypeName(int32_t onnx_type) {
  if (!onnx::TensorProto::DataType_IsValid(onnx_type)) return "unknown dtype " + std::to_string(onnx_type);
  return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(onnx_type));
}

StatusOr<int64_t> CheckedElementCount(const engine::Shape& dims, int64_t max_elements, const std::string& what) {
  bool has_zero = false;
  for (int64_t d : dims) {
    if (d < 0) return InvalidArgument(what + " has a negative dimension in " + engine::ShapeToString(dims));
    has_zero = has_zero || d == 0;
  }
  if (has_zero) return int64_t{0};
  int64_t count = 1;
  for (int64_t d : dims) {
    // Dividing instead of multiplying keeps hostile dims such as [2^40, 2^40] from overflowing.
    if (count > max_elements / d) {
      return ResourceExhausted(what + " has dims " + engine::ShapeToString(dims) + ", more than the limit of " +
                               std::to_string(max_elements) + " elements");
    }
    count *= d;
  }
  return count;
}

StatusOr<Tensor> TensorFromProto(const onnx::TensorProto& proto, int64_t max_elements) {
  const std::string what = TensorLabel(proto);
  if (proto.data_location() == onnx::TensorProto::EXTERNAL || proto.external_data_size() > 0) {
    return Unimplemented(what + " uses external data; Fovea needs the weights inside the model file");
  }
  if (proto.has_segment()) return Unimplemented(what + " is segmented; segmented tensors are not supported");
  auto dtype = FromOnnxDataType(proto.data_type());
  if (!dtype.ok()) return dtype.status().WithContext(what);
  engine::Shape dims(proto.dims().begin(), proto.dims().end());
  FOVEA_RETURN_IF_ERROR(CheckedElementCount(dims, max_elements, what).status());
  Tensor tensor(*dtype, dims);
  if (proto.has_raw_data()) {
    FOVEA_RETURN_IF_ERROR(CopyRawData(proto.raw_data(), tensor, what));
  } else if (*dtype == DataType::kFloat32) {
    FOVEA_RETURN_IF_ERROR((CopyTypedField<decltype(proto.float_data()), float>(proto.float_data(), tensor, what)));
  } else if (*dtype == DataType::kUint8) {
    // ONNX stores 8-bit integers one per int32_data entry.
    FOVEA_RETURN_IF_ERROR((CopyTypedField<decltype(proto.int32_data()), uint8_t>(proto.int32_data(), tensor, what)));
  } else if (*dtype == DataType::kBool) {
    // Like 8-bit integers, ONNX stores booleans one per int32_data entry.
    FOVEA_RETURN_IF_ERROR((CopyTypedField<decltype(proto.int32_data()), bool>(proto.int32_data(), tensor, what)));
  } else if (*dtype == DataType::kInt8) {
    FOVEA_RETURN_IF_ERROR((CopyTypedField<decltype(proto.int32_data()), int8_t>(proto.int32_data(), tensor, what)));
  } else {
    FOVEA_RETURN_IF_ERROR((CopyTypedField<decltype(proto.int64_data()), int64_t>(proto.int64_data(), tensor, what)));
  }
  return tensor;
}

onnx::TensorProto TensorToProto(const Tensor& tensor, const std::string& name) {
  onnx::TensorProto proto;
  proto.set_name(name);
  proto.set_data_type(ToOnnxDataType(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto.add_dims(d);
  if (tensor.has_data()) {
    proto.set_raw_data(static_cast<const char*>(tensor.raw_data()), tensor.byte_size());
  }
  return proto;
}

}  // namespace fovea::modelio
