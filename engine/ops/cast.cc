#include "engine/ops/cast.h"

#include <cmath>
#include <string>

namespace fovea::engine::ops {

StatusOr<std::unique_ptr<Cast>> Cast::Create(const CastParams& params) {
  return std::unique_ptr<Cast>(new Cast(params));
}

StatusOr<std::vector<Tensor>> Cast::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("Cast needs an input");
  const Tensor& x = inputs[0];
  if (x.dtype() == params_.to) return std::vector<Tensor>{x.Clone()};
  Tensor y(params_.to, x.shape());
  const auto n = static_cast<size_t>(x.num_elements());
  if (params_.to == DataType::kInt64) {
    // ONNX (like C) truncates toward zero when casting floating point to integers.
    for (size_t i = 0; i < n; ++i) {
      const float v = x.data<float>()[i];
      if (!std::isfinite(v))
        return InvalidArgument("cannot cast the non-finite value " + std::to_string(v) + " to int64");
      y.data<int64_t>()[i] = static_cast<int64_t>(v);
    }
  } else {
    for (size_t i = 0; i < n; ++i) y.data<float>()[i] = static_cast<float>(x.data<int64_t>()[i]);
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Cast::Emit(PlanBuilder&, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("Cast needs an input");
  if (inputs[0].dtype == DataType::kFloat32 && params_.to == DataType::kFloat32) {
    return std::vector<PlanValue>{inputs[0]};
  }
  return Unimplemented(std::string("Cast from ") + DataTypeName(inputs[0].dtype) + " to " + DataTypeName(params_.to) +
                       " on runtime values is not supported; runtime tensors are float32");
}

}  // namespace fovea::engine::ops
