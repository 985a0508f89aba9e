#pragma once
// 2-D transposed convolution (ONNX ConvTranspose) with groups, strides, pads, dilations, output_padding, output_shape
// and auto_pad, on oneDNN deconvolution, plus post-ops (activations and a residual sum) as Conv has them, so that the
// passes fusing into Conv can fuse into it too.

#include <memory>
#include <vector>

#include "engine/op.h"
#include "engine/ops/conv.h"
#include "engine/ops/spatial.h"

namespace fovea::engine::ops {

struct ConvTransposeParams {
  WindowAttributes window;  // window.kernel may be empty (taken from W); ceil_mode is ignored
  int64_t group = 1;
  std::vector<int64_t> output_padding;  // per spatial axis, added after the end; empty = none
  std::vector<int64_t> output_shape;    // spatial output sizes, which then decide the pads; empty = computed
  std::vector<ConvPostOp> post_ops;     // at most one kSum
};

// Where each input pixel lands: output pixel ih·stride − pads_begin + kh·dilation receives input pixel ih through
// kernel tap kh. pads_begin is negative when output_shape asks for more output than the pads leave.
struct TransposedWindow {
  std::vector<int64_t> kernel, strides, dilations, pads_begin, output;
};

// Resolves `params` for `input` spatial sizes and the kernel of the weights.
StatusOr<TransposedWindow> ResolveTransposedWindow(const ConvTransposeParams& params, const std::vector<int64_t>& input,
                                                   const std::vector<int64_t>& kernel);

// Inputs: X [N, C, H, W], W [C, M/group, kH, kW] (ONNX's layout), optional B [M], and, when post_ops has a sum, the
// residual [N, M, oH, oW] as the fourth input. Output: Y [N, M, oH, oW].
class ConvTranspose final : public Op {
 public:
  static StatusOr<std::unique_ptr<ConvTranspose>> Create(const ConvTransposeParams& params);

  std::string_view type() const override { return "ConvTranspose"; }
  const ConvTransposeParams& params() const { return params_; }
  bool has_sum() const;
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape>) const override;
  std::shared_ptr<const Op> WithPostOp(const PostOp& post_op) const override;
  // Output channel m = g·(M/group) + j is W[:, j] of group g: its taps are scaled, its bias shifted.
  std::optional<std::vector<Tensor>> AbsorbOutputAffine(std::span<const Tensor> parameters,
                                                        const ChannelAffine& affine) const override;
  bool IsFeatureMapProducer() const override { return true; }
  // Gradients of X, W and B; an op with fused post-ops has none (passes fuse them after training).
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

 private:
  explicit ConvTranspose(ConvTransposeParams params) : params_(std::move(params)) {}
  // The window for X and W shapes, with their consistency checked.
  StatusOr<TransposedWindow> Window(const Shape& x, const Shape& w) const;
  StatusOr<std::vector<PlanValue>> EmitOneDnn(PlanBuilder& builder, std::span<const PlanValue> inputs,
                                              const TransposedWindow& g, const Shape& y_shape) const;
  StatusOr<std::vector<PlanValue>> EmitHost(PlanBuilder& builder, std::span<const PlanValue> inputs,
                                            const Shape& y_shape) const;
  StatusOr<std::vector<PlanValue>> EmitUnfused(PlanBuilder& builder, std::span<const PlanValue> inputs) const;
  ConvTransposeParams params_;
};

}  // namespace fovea::engine::ops
