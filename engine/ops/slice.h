#pragma once
// Slice (ONNX): a strided crop along some axes, with negative indices, clamping and negative steps. Runs as a oneDNN
// reorder from a sub-memory view of the input (a host step when a step is negative).

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct SliceParams {
  // Opsets 1-9 give starts/ends/axes as attributes; from opset 10 they are inputs (starts, ends, axes, steps).
  bool ranges_from_inputs = true;
  std::vector<int64_t> starts;
  std::vector<int64_t> ends;
  std::vector<int64_t> axes;  // empty = 0..len(starts)-1
};

// Inputs: data, then (opset ≥ 10) starts, ends, optional axes, optional steps (int64, known at plan time).
// Output: the selected elements.
class Slice final : public Op {
 public:
  static StatusOr<std::unique_ptr<Slice>> Create(const SliceParams& params);

  std::string_view type() const override { return "Slice"; }
  const SliceParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // A crop of H/W with step 1 is a window-1 map shifted by the start; only attribute ranges are known here.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override;
  // Scatters the output gradient into zeros at the sliced positions.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Slice(const SliceParams& params) : params_(params) {}
  SliceParams params_;
};

}  // namespace fovea::engine::ops
