#pragma once
// Identity and Dropout (inference): the output is the input. Removed by engine/passes; kept runnable for graphs that
// skip the passes.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct IdentityParams {
  // Dropout in inference is the identity; its optional mask output is not supported.
  bool is_dropout = false;
};

// Inputs: X (Dropout: optional ratio and training_mode, ignored). Output: X.
class Identity final : public Op {
 public:
  static StatusOr<std::unique_ptr<Identity>> Create(const IdentityParams& params);

  std::string_view type() const override { return params_.is_dropout ? "Dropout" : "Identity"; }
  const IdentityParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  bool IsIdentity() const override { return true; }
  bool IsView() const override { return true; }

 private:
  explicit Identity(const IdentityParams& params) : params_(params) {}
  IdentityParams params_;
};

}  // namespace fovea::engine::ops
