#pragma once
// Cast (ONNX) between float32 and int64. Runtime float32→float32 is a no-op view; other runtime casts are rejected with
// a clear error.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct CastParams {
  DataType to = DataType::kFloat32;
};

// Inputs: X. Output: X converted to `to`.
class Cast final : public Op {
 public:
  static StatusOr<std::unique_ptr<Cast>> Create(const CastParams& params);

  std::string_view type() const override { return "Cast"; }
  const CastParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }

 private:
  explicit Cast(const CastParams& params) : params_(params) {}
  CastParams params_;
};

}  // namespace fovea::engine::ops
