#include "engine/ops/shape_of.h"

#include <algorithm>

namespace fovea::engine::ops {
namespace {

// ONNX Shape (opset 15): start/end slice the dimension list, negative values count from the end, both clamped.
Tensor ShapeTensor(const Shape& shape, const ShapeOfParams& params) {
  const auto rank = static_cast<int64_t>(shape.size());
  const auto clamp = [rank](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + rank : i, 0, rank); };
  const int64_t start = clamp(params.start);
  const int64_t end = std::max(start, clamp(params.end));
  const std::vector<int64_t> dims(shape.begin() + start, shape.begin() + end);
  return Tensor::FromInt64s({end - start}, dims);
}

}  // namespace

StatusOr<std::unique_ptr<ShapeOf>> ShapeOf::Create(const ShapeOfParams& params) {
  return std::unique_ptr<ShapeOf>(new ShapeOf(params));
}

StatusOr<std::vector<Tensor>> ShapeOf::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("Shape needs an input");
  return std::vector<Tensor>{ShapeTensor(inputs[0].shape(), params_)};
}

StatusOr<std::vector<PlanValue>> ShapeOf::Emit(PlanBuilder&, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("Shape needs an input");
  // A plan is compiled for concrete shapes, so the shape of a runtime value is a constant of this plan.
  return std::vector<PlanValue>{PlanValue::Constant(ShapeTensor(inputs[0].shape, params_))};
}

}  // namespace fovea::engine::ops
