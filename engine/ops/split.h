#pragma once
// Split (ONNX): cuts a tensor into consecutive parts along one axis, each part a oneDNN reorder from a sub-memory view.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct SplitParams {
  int64_t axis = 0;            // may be negative
  int64_t num_outputs = 1;     // the node's output count
  std::vector<int64_t> split;  // part lengths from the attribute (opset < 13); empty = the input, or equal parts
};

// Inputs: data, optional split (int64 lengths, known at plan time; opset ≥ 13). Outputs: num_outputs parts.
class Split final : public Op {
 public:
  static StatusOr<std::unique_ptr<Split>> Create(const SplitParams& params);

  std::string_view type() const override { return "Split"; }
  const SplitParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Each part's gradient lands at its place in a zero tensor of the input's shape.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit Split(const SplitParams& params) : params_(params) {}
  SplitParams params_;
};

}  // namespace fovea::engine::ops
