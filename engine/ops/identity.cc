#include "engine/ops/identity.h"

namespace fovea::engine::ops {

StatusOr<std::unique_ptr<Identity>> Identity::Create(const IdentityParams& params) {
  return std::unique_ptr<Identity>(new Identity(params));
}

StatusOr<std::vector<Tensor>> Identity::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("Identity needs an input");
  return std::vector<Tensor>{inputs[0]};
}

StatusOr<std::vector<PlanValue>> Identity::Emit(PlanBuilder&, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("Identity needs an input");
  return std::vector<PlanValue>{inputs[0]};
}

}  // namespace fovea::engine::ops
