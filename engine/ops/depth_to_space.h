#pragma once
// DepthToSpace and SpaceToDepth (ONNX): move blocks of channels into b×b pixel blocks and back. Each is one reshape
// and transpose, run as a oneDNN reorder from a six-axis strided view of the input.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct DepthToSpaceParams {
  enum class Kind { kDepthToSpace, kSpaceToDepth } kind = Kind::kDepthToSpace;
  int64_t blocksize = 1;
  // DepthToSpace's channel order: DCR (depth-column-row, the default) or CRD (column-row-depth, opset ≥ 11).
  enum class Mode { kDcr, kCrd } mode = Mode::kDcr;
};

// Inputs: X [N, C, H, W]. Output: [N, C/b², H·b, W·b] (DepthToSpace) or [N, C·b², H/b, W/b] (SpaceToDepth).
class DepthToSpace final : public Op {
 public:
  static StatusOr<std::unique_ptr<DepthToSpace>> Create(const DepthToSpaceParams& params);

  std::string_view type() const override;
  const DepthToSpaceParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // DepthToSpace upsamples by the block size; SpaceToDepth is a block-size window with that stride.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override;
  // The gradient moves back through the same permutation, inverted.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit DepthToSpace(const DepthToSpaceParams& params) : params_(params) {}
  DepthToSpaceParams params_;
};

}  // namespace fovea::engine::ops
