#pragma once
// Tile (ONNX): repeats a tensor along each axis, as a oneDNN reorder from a view that reads every repeat with
// stride 0 (a host step when the doubled rank exceeds oneDNN's).

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

// Inputs: data, repeats (1-D int64 of the data's rank, known at plan time). Output: data tiled repeats[d] times.
class Tile final : public Op {
 public:
  static StatusOr<std::unique_ptr<Tile>> Create();

  std::string_view type() const override { return "Tile"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Sums the output gradient over the repeats.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  Tile() = default;
};

}  // namespace fovea::engine::ops
