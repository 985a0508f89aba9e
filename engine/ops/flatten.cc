#include "engine/ops/flatten.h"

#include <string>

namespace fovea::engine::ops {
namespace {

StatusOr<Shape> FlattenedShape(int64_t axis, const Shape& x) {
  const auto rank = static_cast<int64_t>(x.size());
  if (axis < -rank || axis > rank) {
    return InvalidArgument("Flatten axis " + std::to_string(axis) + " is outside [-" + std::to_string(rank) + ", " +
                           std::to_string(rank) + "] for input " + ShapeToString(x));
  }
  if (axis < 0) axis += rank;
  const auto split = x.begin() + axis;
  return Shape{NumElements(Shape(x.begin(), split)), NumElements(Shape(split, x.end()))};
}

}  // namespace

StatusOr<std::unique_ptr<Flatten>> Flatten::Create(const FlattenParams& params) {
  return std::unique_ptr<Flatten>(new Flatten(params));
}

StatusOr<std::vector<Tensor>> Flatten::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("Flatten needs an input");
  FOVEA_ASSIGN_OR_RETURN(Shape shape, FlattenedShape(params_.axis, inputs[0].shape()));
  FOVEA_ASSIGN_OR_RETURN(Tensor y, inputs[0].Clone().Reshaped(shape));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Flatten::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("Flatten needs an input");
  FOVEA_ASSIGN_OR_RETURN(Shape shape, FlattenedShape(params_.axis, inputs[0].shape));
  return std::vector<PlanValue>{builder.Alias(builder.Plain(inputs[0]), shape)};
}

}  // namespace fovea::engine::ops
