#include "engine/ops/depth_to_space.h"

#include <string>

#include "engine/ops/strided_view.h"

namespace fovea::engine::ops {
namespace {

using Kind = DepthToSpaceParams::Kind;
using Mode = DepthToSpaceParams::Mode;
constexpr int64_t kImageRank = 4;

// The output shape and the view of the input that produces it (six axes, then seen as the 4-D output).
struct BlockView {
  StridedView view;
  Shape shape;
};

StatusOr<BlockView> MakeBlockView(const DepthToSpaceParams& p, const Shape& x) {
  if (static_cast<int64_t>(x.size()) != kImageRank) {
    return InvalidArgument("input must be [N, C, H, W], got " + ShapeToString(x));
  }
  const int64_t n = x[0], c = x[1], h = x[2], w = x[3], b = p.blocksize;
  BlockView block;
  if (p.kind == Kind::kDepthToSpace) {
    if (c % (b * b) != 0) return InvalidArgument("channels " + std::to_string(c) + " are not a multiple of b²");
    const int64_t depth = c / (b * b);
    // The input channel index splits as (b1, b2, depth) for DCR and (depth, b1, b2) for CRD; the output is read as
    // [N, depth, H, b1, W, b2].
    const Shape six = p.mode == Mode::kDcr ? Shape{n, b, b, depth, h, w} : Shape{n, depth, b, b, h, w};
    const std::vector<int64_t> perm =
        p.mode == Mode::kDcr ? std::vector<int64_t>{0, 3, 4, 1, 5, 2} : std::vector<int64_t>{0, 1, 4, 2, 5, 3};
    block.view = PermutedView(six, perm);
    block.shape = {n, depth, h * b, w * b};
  } else {
    if (h % b != 0 || w % b != 0) {
      return InvalidArgument("H and W of " + ShapeToString(x) + " are not multiples of the block size");
    }
    // The input is [N, C, H/b, b1, W/b, b2]; output channels are (b1, b2, C).
    block.view = PermutedView({n, c, h / b, b, w / b, b}, {0, 3, 5, 1, 2, 4});
    block.shape = {n, c * b * b, h / b, w / b};
  }
  return block;
}

}  // namespace

StatusOr<std::unique_ptr<DepthToSpace>> DepthToSpace::Create(const DepthToSpaceParams& params) {
  if (params.blocksize < 1) return InvalidArgument("blocksize " + std::to_string(params.blocksize) + " is below 1");
  return std::unique_ptr<DepthToSpace>(new DepthToSpace(params));
}

std::string_view DepthToSpace::type() const {
  return params_.kind == Kind::kDepthToSpace ? "DepthToSpace" : "SpaceToDepth";
}

StatusOr<std::vector<Tensor>> DepthToSpace::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument(std::string(type()) + " needs X");
  FOVEA_ASSIGN_OR_RETURN(BlockView block, MakeBlockView(params_, inputs[0].shape()));
  FOVEA_ASSIGN_OR_RETURN(Tensor y, GatherView(inputs[0], block.view).Reshaped(block.shape));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> DepthToSpace::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument(std::string(type()) + " needs X");
  FOVEA_ASSIGN_OR_RETURN(BlockView block, MakeBlockView(params_, inputs[0].shape));
  return std::vector<PlanValue>{EmitView(builder, inputs[0], block.view, block.shape)};
}

StatusOr<SpatialGeometry> DepthToSpace::Geometry(std::span<const Shape> /*input_shapes*/) const {
  SpatialGeometry geometry;
  if (params_.kind == Kind::kDepthToSpace) {
    geometry.upsample = {params_.blocksize, params_.blocksize};
  } else {
    geometry.stride = geometry.window = {params_.blocksize, params_.blocksize};
  }
  return geometry;
}

StatusOr<std::vector<Tensor>> DepthToSpace::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                     std::span<const Tensor> output_grads,
                                                     std::span<const bool> /*needed*/) const {
  if (inputs.empty() || output_grads.empty()) return InvalidArgument(std::string(type()) + " backward needs X, dY");
  FOVEA_ASSIGN_OR_RETURN(BlockView block, MakeBlockView(params_, inputs[0].shape()));
  FOVEA_ASSIGN_OR_RETURN(Tensor grad, output_grads[0].Reshaped(block.view.shape));
  return std::vector<Tensor>{ScatterAddView(grad, inputs[0].shape(), block.view)};
}

}  // namespace fovea::engine::ops
