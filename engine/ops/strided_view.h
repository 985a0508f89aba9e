#pragma once
// Strided views: the one gather/scatter that the layout ops (Transpose, Slice, Split, Expand, Tile, DepthToSpace,
// SpaceToDepth, channel shuffle) are all instances of. A view reads a plain row-major tensor through per-axis strides
// and an offset; Reference copies through it with plain loops, Backward scatters gradients back through it, and Emit
// runs it as a oneDNN reorder from a strided memory descriptor (or a host step when oneDNN cannot describe it).

#include <cstdint>
#include <vector>

#include "common/status.h"
#include "engine/plan_builder.h"
#include "engine/tensor.h"

namespace fovea::engine::ops {

// Output element at index (i_0, …, i_{r-1}) of `shape` is input element `offset + Σ i_d·strides[d]` (in elements of
// the plain input). Strides may be 0 (broadcast) or negative (reversed slices).
struct StridedView {
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;
};

// Row-major strides of a plain tensor of `shape`, in elements.
std::vector<int64_t> PlainStrides(const Shape& shape);
// The view of a plain tensor of `shape` with its axes permuted: output axis i is input axis perm[i].
StridedView PermutedView(const Shape& shape, const std::vector<int64_t>& perm);

// A new plain tensor (input's dtype) holding the elements `view` reads from plain `input`.
Tensor GatherView(const Tensor& input, const StridedView& view);
// Same, into the preallocated `output` of shape view.shape (for host steps).
void GatherViewInto(const Tensor& input, const StridedView& view, Tensor& output);
// The adjoint of GatherView for float32: a zero tensor of `input_shape` with each element of `grad` (view.shape)
// added at the input position it was read from, so positions read several times sum their gradients.
Tensor ScatterAddView(const Tensor& grad, const Shape& input_shape, const StridedView& view);

// Emits `view` of `input` as a new plain value, seen with `shape` (view.shape, or another shape of the same element
// count: Tile's view has twice the output's rank): a oneDNN reorder from a strided memory descriptor over the plain
// input when the strides are non-negative, otherwise a host step running GatherViewInto. A constant input folds; an
// empty view is an empty constant (oneDNN memories cannot have zero-sized dimensions).
PlanValue EmitView(PlanBuilder& builder, const PlanValue& input, const StridedView& view, const Shape& shape);
inline PlanValue EmitView(PlanBuilder& builder, const PlanValue& input, const StridedView& view) {
  return EmitView(builder, input, view, view.shape);
}

}  // namespace fovea::engine::ops
