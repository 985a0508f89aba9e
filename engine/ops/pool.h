#pragma once
// Pooling (ONNX MaxPool, AveragePool, GlobalMaxPool, GlobalAveragePool), 2-D, on oneDNN pooling_v2 (dilations).

#include <memory>

#include "engine/op.h"
#include "engine/ops/spatial.h"

namespace fovea::engine::ops {

struct PoolParams {
  enum class Kind { kMax, kAverage } kind = Kind::kMax;
  bool global = false;             // window = the whole spatial extent
  WindowAttributes window;         // ignored when global; window.ceil_mode honoured
  bool count_include_pad = false;  // AveragePool: divide by the full window, padding included
};

// Inputs: X [N, C, H, W]. Output: Y [N, C, oH, oW] (MaxPool's optional Indices output is not supported).
class Pool final : public Op {
 public:
  static StatusOr<std::unique_ptr<Pool>> Create(const PoolParams& params);

  std::string_view type() const override;
  const PoolParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape> input_shapes) const override;
  std::shared_ptr<const Op> WindowedOver(std::array<int64_t, 2> window) const override;
  bool IsGlobalAverage() const override { return params_.global && params_.kind == PoolParams::Kind::kAverage; }

 private:
  explicit Pool(const PoolParams& params) : params_(params) {}
  StatusOr<Window> ResolveGeometry(const Shape& x) const;
  PoolParams params_;
};

}  // namespace fovea::engine::ops
