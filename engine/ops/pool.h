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

// One pooling in oneDNN's terms for one input shape. The engine's Pool (Emit, Backward) and the trainer's pooling layer
// build their oneDNN primitives from it.
struct PoolProblem {
  dnnl::algorithm algorithm = dnnl::algorithm::pooling_max;
  dnnl::memory::dims src, dst, kernel, strides, dilations, pads_begin, pads_end;  // dilations counted from 0

  dnnl::pooling_v2_forward::desc Forward(dnnl::prop_kind prop, const dnnl::memory::desc& src_md,
                                         const dnnl::memory::desc& dst_md) const;
  dnnl::pooling_v2_backward::desc Backward(const dnnl::memory::desc& src_md, const dnnl::memory::desc& dst_md) const;
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
  bool CommutesWithQuantization() const override { return params_.kind == PoolParams::Kind::kMax; }
  // dX by oneDNN's pooling backward (max pooling routes each gradient to its window's maximum, found by a training
  // forward pass).
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

  // The oneDNN problem for X of shape `x`; UNIMPLEMENTED where oneDNN's arithmetic would differ from ONNX's.
  StatusOr<PoolProblem> Problem(const Shape& x) const;

 private:
  explicit Pool(const PoolParams& params) : params_(params) {}
  StatusOr<Window> ResolveGeometry(const Shape& x) const;
  PoolParams params_;
};

}  // namespace fovea::engine::ops
