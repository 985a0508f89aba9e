#include "engine/ops/constant_of_shape.h"

#include <cstring>

#include "engine/ops/shape_arithmetic.h"

namespace fovea::engine::ops {

StatusOr<std::unique_ptr<ConstantOfShape>> ConstantOfShape::Create(const ConstantOfShapeParams& params) {
  ConstantOfShapeParams checked = params;
  if (!checked.value.has_data()) checked.value = Tensor(DataType::kFloat32, {1});
  if (checked.value.num_elements() != 1) return InvalidArgument("ConstantOfShape's value must have one element");
  return std::unique_ptr<ConstantOfShape>(new ConstantOfShape(checked));
}

StatusOr<std::vector<Tensor>> ConstantOfShape::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 1 || !inputs[0].has_data()) return InvalidArgument("ConstantOfShape needs a shape");
  const Tensor& shape = inputs[0];
  if (shape.dtype() != DataType::kInt64 || shape.rank() != 1) {
    return InvalidArgument("ConstantOfShape's shape must be a 1-D int64 tensor");
  }
  const Shape dims(shape.int64s().begin(), shape.int64s().end());
  for (int64_t d : dims) {
    if (d < 0) return InvalidArgument("ConstantOfShape's shape " + ShapeToString(dims) + " has a negative entry");
  }
  Tensor y(params_.value.dtype(), dims);
  const size_t element = DataTypeSize(y.dtype());
  auto* dst = static_cast<char*>(y.raw_data());
  for (int64_t e = 0; e < y.num_elements(); ++e) {
    std::memcpy(dst + static_cast<size_t>(e) * element, params_.value.raw_data(), element);
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> ConstantOfShape::Emit(PlanBuilder&, std::span<const PlanValue>) const {
  return OnlyOnConstants(type());
}

}  // namespace fovea::engine::ops
