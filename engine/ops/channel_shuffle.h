#pragma once
// ChannelShuffle: ShuffleNet's Reshape [N, g, C/g, H, W] → Transpose [0, 2, 1, 3, 4] → Reshape [N, C, H, W] as one op
// on oneDNN's shuffle primitive. It has no ONNX op type of its own: engine/channel_shuffle_pass.h creates it from that
// pattern.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct ChannelShuffleParams {
  int64_t groups = 1;  // g: the channels are read as [g, C/g] and written as [C/g, g]
  // When not empty, the input must have this shape (-1 = any extent): the fusing pass records what the replaced
  // Reshape assumed about the input, so a model whose input does not fit fails instead of computing something else.
  Shape expected_input;
};

// Inputs: X [N, C, ...] with C a multiple of groups. Output: X with its channels shuffled.
class ChannelShuffle final : public Op {
 public:
  static StatusOr<std::unique_ptr<ChannelShuffle>> Create(const ChannelShuffleParams& params);

  std::string_view type() const override { return "ChannelShuffle"; }
  const ChannelShuffleParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override { return SpatialGeometry::Pointwise(); }
  // The gradient is shuffled back: the inverse of a shuffle with g groups is one with C/g groups.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit ChannelShuffle(const ChannelShuffleParams& params) : params_(params) {}
  ChannelShuffleParams params_;
};

}  // namespace fovea::engine::ops
