#pragma once
// Transpose (ONNX): permutes the axes of a tensor, as a oneDNN reorder from the input read through permuted strides.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct TransposeParams {
  std::vector<int64_t> perm;  // output axis i is input axis perm[i]; empty = reverse the axes
};

// Inputs: data (any dtype). Output: data with its axes permuted.
class Transpose final : public Op {
 public:
  static StatusOr<std::unique_ptr<Transpose>> Create(const TransposeParams& params);

  std::string_view type() const override { return "Transpose"; }
  const TransposeParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Pointwise when the spatial axes 2 and 3 stay in place (a channel shuffle); other permutations move pixels.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override;
  // The permutation as the model states it (nullopt for the default, which reverses the axes of any rank).
  std::optional<std::vector<int64_t>> AsPermutation() const override {
    if (params_.perm.empty()) return std::nullopt;
    return params_.perm;
  }
  // The gradient is the output gradient transposed back by the inverse permutation.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Transpose(const TransposeParams& params) : params_(params) {}
  // The permutation for an input of rank `rank`, checked to be one.
  StatusOr<std::vector<int64_t>> Permutation(int64_t rank) const;
  TransposeParams params_;
};

}  // namespace fovea::engine::ops
