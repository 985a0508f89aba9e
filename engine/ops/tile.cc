#include "engine/ops/tile.h"

#include <string>

#include "engine/ops/strided_view.h"

namespace fovea::engine::ops {
namespace {

// A tiling seen two ways: `view` has axes (repeat_0, dim_0, repeat_1, dim_1, …) reading the input with stride 0 along
// each repeat axis, and `shape` is the output (repeat_d · dim_d per axis) with the same row-major elements.
struct TileView {
  StridedView view;
  Shape shape;
};

StatusOr<TileView> MakeTileView(const Shape& shape, const Tensor& repeats) {
  if (repeats.dtype() != DataType::kInt64 || repeats.num_elements() != static_cast<int64_t>(shape.size())) {
    return InvalidArgument("Tile's repeats must be an int64 tensor with one entry per axis of " + ShapeToString(shape));
  }
  const auto plain = PlainStrides(shape);
  TileView tile;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int64_t repeat = repeats.int64s()[d];
    if (repeat < 0) return InvalidArgument("Tile repeat " + std::to_string(repeat) + " is negative");
    tile.view.shape.insert(tile.view.shape.end(), {repeat, shape[d]});
    tile.view.strides.insert(tile.view.strides.end(), {0, plain[d]});
    tile.shape.push_back(repeat * shape[d]);
  }
  return tile;
}

}  // namespace

StatusOr<std::unique_ptr<Tile>> Tile::Create() { return std::unique_ptr<Tile>(new Tile()); }

StatusOr<std::vector<Tensor>> Tile::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("Tile needs data and repeats");
  }
  FOVEA_ASSIGN_OR_RETURN(TileView tile, MakeTileView(inputs[0].shape(), inputs[1]));
  FOVEA_ASSIGN_OR_RETURN(Tensor y, GatherView(inputs[0], tile.view).Reshaped(tile.shape));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Tile::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[0].present() || !inputs[1].present()) {
    return InvalidArgument("Tile needs data and repeats");
  }
  if (!inputs[1].is_constant()) return Unimplemented("Tile's repeats must be known when the model loads");
  FOVEA_ASSIGN_OR_RETURN(TileView tile, MakeTileView(inputs[0].shape, *inputs[1].constant));
  return std::vector<PlanValue>{EmitView(builder, inputs[0], tile.view, tile.shape)};
}

StatusOr<std::vector<Tensor>> Tile::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                             std::span<const Tensor> output_grads,
                                             std::span<const bool> /*needed*/) const {
  if (inputs.size() < 2 || output_grads.empty()) return InvalidArgument("Tile backward needs data and a gradient");
  FOVEA_ASSIGN_OR_RETURN(TileView tile, MakeTileView(inputs[0].shape(), inputs[1]));
  FOVEA_ASSIGN_OR_RETURN(Tensor grad, output_grads[0].Reshaped(tile.view.shape));
  return std::vector<Tensor>{ScatterAddView(grad, inputs[0].shape(), tile.view), Tensor()};
}

}  // namespace fovea::engine::ops
