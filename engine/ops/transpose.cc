#include "engine/ops/transpose.h"

#include <algorithm>
#include <numeric>
#include <string>

#include "engine/ops/strided_view.h"

namespace fovea::engine::ops {
namespace {

constexpr int64_t kHeightAxis = 2;
constexpr int64_t kWidthAxis = 3;

std::string PermToString(const std::vector<int64_t>& perm) { return ShapeToString(Shape(perm.begin(), perm.end())); }

}  // namespace

StatusOr<std::unique_ptr<Transpose>> Transpose::Create(const TransposeParams& params) {
  std::vector<int64_t> sorted = params.perm;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (sorted[i] != static_cast<int64_t>(i)) {
      return InvalidArgument("perm " + PermToString(params.perm) + " is not a permutation of 0.." +
                             std::to_string(sorted.size() - 1));
    }
  }
  return std::unique_ptr<Transpose>(new Transpose(params));
}

StatusOr<std::vector<int64_t>> Transpose::Permutation(int64_t rank) const {
  if (params_.perm.empty()) {
    std::vector<int64_t> reverse(static_cast<size_t>(rank));
    std::iota(reverse.rbegin(), reverse.rend(), 0);
    return reverse;
  }
  if (static_cast<int64_t>(params_.perm.size()) != rank) {
    return InvalidArgument("perm " + PermToString(params_.perm) + " does not match an input of rank " +
                           std::to_string(rank));
  }
  return params_.perm;
}

StatusOr<std::vector<Tensor>> Transpose::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("Transpose needs data");
  FOVEA_ASSIGN_OR_RETURN(auto perm, Permutation(inputs[0].rank()));
  return std::vector<Tensor>{GatherView(inputs[0], PermutedView(inputs[0].shape(), perm))};
}

StatusOr<std::vector<PlanValue>> Transpose::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("Transpose needs data");
  FOVEA_ASSIGN_OR_RETURN(auto perm, Permutation(static_cast<int64_t>(inputs[0].shape.size())));
  return std::vector<PlanValue>{EmitView(builder, inputs[0], PermutedView(inputs[0].shape, perm))};
}

StatusOr<SpatialGeometry> Transpose::Geometry(std::span<const Shape> /*input_shapes*/) const {
  const auto& perm = params_.perm;
  if (static_cast<int64_t>(perm.size()) > kWidthAxis && perm[kHeightAxis] == kHeightAxis &&
      perm[kWidthAxis] == kWidthAxis) {
    return SpatialGeometry::Pointwise();
  }
  return FailedPrecondition("Transpose with perm " + PermToString(perm) + " moves the spatial axes");
}

StatusOr<std::vector<Tensor>> Transpose::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                  std::span<const Tensor> output_grads,
                                                  std::span<const bool> /*needed*/) const {
  if (inputs.empty() || output_grads.empty()) return InvalidArgument("Transpose backward needs data and a gradient");
  FOVEA_ASSIGN_OR_RETURN(auto perm, Permutation(inputs[0].rank()));
  std::vector<int64_t> inverse(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inverse[static_cast<size_t>(perm[i])] = static_cast<int64_t>(i);
  return std::vector<Tensor>{GatherView(output_grads[0], PermutedView(output_grads[0].shape(), inverse))};
}

}  // namespace fovea::engine::ops
