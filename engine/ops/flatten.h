#pragma once
// Flatten (ONNX): [d0..dn] → [d0*..*d(axis-1), d(axis)*..*dn]. A view of a plain layout: no data moves when the input
// is already plain.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct FlattenParams {
  int64_t axis = 1;  // may be negative
};

// Inputs: X. Output: 2-D Y.
class Flatten final : public Op {
 public:
  static StatusOr<std::unique_ptr<Flatten>> Create(const FlattenParams& params);

  std::string_view type() const override { return "Flatten"; }
  const FlattenParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  bool IsView() const override { return true; }

 private:
  explicit Flatten(const FlattenParams& params) : params_(params) {}
  FlattenParams params_;
};

}  // namespace fovea::engine::ops
