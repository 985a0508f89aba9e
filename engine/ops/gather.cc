#include "engine/ops/gather.h"

#include <cstring>
#include <string>

namespace fovea::engine::ops {

StatusOr<std::unique_ptr<Gather>> Gather::Create(const GatherParams& params) {
  return std::unique_ptr<Gather>(new Gather(params));
}

StatusOr<std::vector<Tensor>> Gather::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("Gather needs data and indices");
  }
  const Tensor& data = inputs[0];
  const Tensor& indices = inputs[1];
  if (indices.dtype() != DataType::kInt64) return InvalidArgument("Gather indices must be int64");
  const int64_t rank = data.rank();
  int64_t axis = params_.axis;
  if (rank == 0 || axis < -rank || axis >= rank) {
    return InvalidArgument("Gather axis " + std::to_string(axis) + " is outside the data " +
                           ShapeToString(data.shape()));
  }
  if (axis < 0) axis += rank;
  const Shape& ds = data.shape();
  Shape out(ds.begin(), ds.begin() + axis);
  out.insert(out.end(), indices.shape().begin(), indices.shape().end());
  out.insert(out.end(), ds.begin() + axis + 1, ds.end());
  const int64_t outer = NumElements(Shape(ds.begin(), ds.begin() + axis));
  const int64_t inner = NumElements(Shape(ds.begin() + axis + 1, ds.end()));
  const int64_t extent = ds[static_cast<size_t>(axis)];
  const size_t element = DataTypeSize(data.dtype());
  Tensor y(data.dtype(), out);
  const auto* src = static_cast<const char*>(data.raw_data());
  auto* dst = static_cast<char*>(y.raw_data());
  const int64_t count = indices.num_elements();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < count; ++i) {
      int64_t index = indices.data<int64_t>()[i];
      if (index < -extent || index >= extent) {
        return InvalidArgument("Gather index " + std::to_string(index) + " is outside [-" + std::to_string(extent) +
                               ", " + std::to_string(extent - 1) + "]");
      }
      if (index < 0) index += extent;
      std::memcpy(dst + static_cast<size_t>((o * count + i) * inner) * element,
                  src + static_cast<size_t>((o * extent + index) * inner) * element,
                  static_cast<size_t>(inner) * element);
    }
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Gather::Emit(PlanBuilder&, std::span<const PlanValue> inputs) const {
  std::vector<Tensor> constants;
  for (const auto& v : inputs) {
    if (!v.is_constant()) {
      return Unimplemented("Gather on runtime values is not supported; only shape arithmetic known at load time");
    }
    constants.push_back(*v.constant);
  }
  FOVEA_ASSIGN_OR_RETURN(auto outs, Reference(constants));
  return std::vector<PlanValue>{PlanValue::Constant(std::move(outs[0]))};
}

}  // namespace fovea::engine::ops
