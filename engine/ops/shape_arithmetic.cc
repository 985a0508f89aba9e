#include "engine/ops/shape_arithmetic.h"

#include <string>

#include "engine/ops/binary.h"

namespace fovea::engine::ops {

StatusOr<Shape> BroadcastAll(const std::vector<Shape>& shapes) {
  Shape out;
  for (const Shape& s : shapes) {
    FOVEA_ASSIGN_OR_RETURN(out, BroadcastShapes(out, s));
  }
  return out;
}

std::vector<std::vector<int64_t>> BroadcastIndices(const Shape& out, const std::vector<Shape>& operands) {
  const int64_t count = NumElements(out);
  std::vector<std::vector<int64_t>> indices;
  for (const Shape& shape : operands) {
    // Strides of the operand aligned to the output's trailing axes, 0 along axes it broadcasts.
    std::vector<int64_t> strides(out.size(), 0);
    int64_t stride = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      const size_t operand_axis = shape.size() - 1 - i;
      const size_t out_axis = out.size() - 1 - i;
      strides[out_axis] = shape[operand_axis] == 1 ? 0 : stride;
      stride *= shape[operand_axis];
    }
    std::vector<int64_t> flat(static_cast<size_t>(count));
    std::vector<int64_t> index(out.size(), 0);
    int64_t source = 0;
    for (int64_t e = 0; e < count; ++e) {
      flat[static_cast<size_t>(e)] = source;
      for (size_t d = out.size(); d-- > 0;) {
        source += strides[d];
        if (++index[d] < out[d]) break;
        source -= strides[d] * out[d];
        index[d] = 0;
      }
    }
    indices.push_back(std::move(flat));
  }
  return indices;
}

double ElementAsDouble(const Tensor& t, int64_t index) {
  switch (t.dtype()) {
    case DataType::kFloat32:
      return t.data<float>()[index];
    case DataType::kInt64:
      return static_cast<double>(t.data<int64_t>()[index]);
    case DataType::kUint8:
    case DataType::kBool:
      return t.data<uint8_t>()[index];
    case DataType::kInt8:
      return t.data<int8_t>()[index];
  }
  return 0.0;
}

Status OnlyOnConstants(std::string_view op) {
  return Unimplemented(std::string(op) +
                       " on runtime values is not supported; only shape arithmetic known when the model loads");
}

}  // namespace fovea::engine::ops
