#pragma once
// ArgMax and ArgMin (ONNX): the int64 index of the largest or smallest element along one axis. oneDNN has neither an
// arg-reduction nor int64, so a plan runs the reference loop as a host step; its int64 result may only be a graph
// output (engine/plan_builder.h, ValueDesc), as in classifiers and segmenters that end in ArgMax.

#include <cstdint>
#include <memory>

#include "engine/op.h"

namespace fovea::engine::ops {

struct ArgReduceParams {
  bool is_max = true;  // ArgMax; false: ArgMin
  int64_t axis = 0;
  bool keepdims = true;
  bool select_last_index = false;  // on ties, the last index instead of the first
};

// Inputs: data (float32 or int64). Output: int64 indices, data's shape with `axis` 1 (keepdims) or removed.
class ArgReduce final : public Op {
 public:
  static StatusOr<std::unique_ptr<ArgReduce>> Create(const ArgReduceParams& params);

  std::string_view type() const override;
  const ArgReduceParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // An index carries no gradient: the data input gets none.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit ArgReduce(const ArgReduceParams& params) : params_(params) {}
  ArgReduceParams params_;
};

}  // namespace fovea::engine::ops
