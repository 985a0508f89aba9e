#pragma once
// Expand (ONNX): broadcasts a tensor to a shape (numpy rules), as a oneDNN reorder reading broadcast axes with
// stride 0.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

// Inputs: data, shape (1-D int64, known at plan time). Output: data broadcast with `shape`.
class Expand final : public Op {
 public:
  static StatusOr<std::unique_ptr<Expand>> Create();

  std::string_view type() const override { return "Expand"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Sums the output gradient over the positions each input element was repeated to.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  Expand() = default;
};

}  // namespace fovea::engine::ops
