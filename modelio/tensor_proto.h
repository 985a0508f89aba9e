#pragma once
// onnx::TensorProto ⇄ engine::Tensor. Reading validates every size against the dims before allocating, so a hostile
// file (negative or overflowing dims, a raw_data length that disagrees with them) is an error, never a crash.

#include <cstdint>
#include <string>

#include <onnx/onnx_pb.h>

#include "engine/tensor.h"

namespace fovea::modelio {

// The engine dtype for an ONNX TensorProto.DataType value; Unimplemented (naming the ONNX type) for any other.
StatusOr<engine::DataType> FromOnnxDataType(int32_t onnx_type);
// The ONNX TensorProto.DataType value for an engine dtype.
int32_t ToOnnxDataType(engine::DataType type);
// "FLOAT", "INT64", "UINT8", … as ONNX spells TensorProto.DataType values (for messages).
std::string OnnxDataTypeName(int32_t onnx_type);

// Element count of `dims` with every dim checked to be non-negative and the product to stay within `max_elements`;
// InvalidArgument for a negative dim, ResourceExhausted above the limit. `what` names the tensor in messages.
StatusOr<int64_t> CheckedElementCount(const engine::Shape& dims, int64_t max_elements, const std::string& what);

// Copies a float32 or int64 TensorProto (raw_data or the typed repeated field) into a new Tensor. External data,
// segments and other dtypes are rejected; the element count may not exceed `max_elements`.
StatusOr<engine::Tensor> TensorFromProto(const onnx::TensorProto& proto, int64_t max_elements);

// Writes `tensor` as a TensorProto named `name`, with its bytes in raw_data (little-endian, as ONNX specifies).
onnx::TensorProto TensorToProto(const engine::Tensor& tensor, const std::string& name);

}  // namespace fovea::modelio
