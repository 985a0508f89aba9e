#include "engine/ops/where.h"

#include <cstring>

#include "engine/ops/shape_arithmetic.h"

namespace fovea::engine::ops {

StatusOr<std::unique_ptr<Where>> Where::Create() { return std::unique_ptr<Where>(new Where()); }

StatusOr<std::vector<Tensor>> Where::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 3 || !inputs[0].has_data() || !inputs[1].has_data() || !inputs[2].has_data()) {
    return InvalidArgument("Where needs condition, X and Y");
  }
  const Tensor& condition = inputs[0];
  const Tensor& x = inputs[1];
  const Tensor& y = inputs[2];
  if (condition.dtype() != DataType::kBool) return InvalidArgument("Where's condition must be bool");
  if (x.dtype() != y.dtype()) return InvalidArgument("Where's X and Y must share one dtype");
  const std::vector<Shape> shapes = {condition.shape(), x.shape(), y.shape()};
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastAll(shapes));
  const auto indices = BroadcastIndices(out, shapes);
  Tensor result(x.dtype(), out);
  const size_t element = DataTypeSize(x.dtype());
  auto* dst = static_cast<char*>(result.raw_data());
  for (int64_t e = 0; e < result.num_elements(); ++e) {
    const auto flat = static_cast<size_t>(e);
    const bool pick_x = condition.data<bool>()[indices[0][flat]];
    const auto* src = static_cast<const char*>(pick_x ? x.raw_data() : y.raw_data());
    const int64_t source = indices[pick_x ? 1 : 2][flat];
    std::memcpy(dst + flat * element, src + static_cast<size_t>(source) * element, element);
  }
  return std::vector<Tensor>{result};
}

StatusOr<std::vector<PlanValue>> Where::Emit(PlanBuilder&, std::span<const PlanValue>) const {
  return OnlyOnConstants(type());
}

}  // namespace fovea::engine::ops
