#pragma once
// 2-D convolution (ONNX Conv) with groups (depthwise included), strides, pads, dilations and auto_pad, plus the
// post-ops graph passes fuse into it: a residual sum and activations, executed by oneDNN in the same pass over dst.

#include <memory>
#include <optional>
#include <vector>

#include "engine/op.h"
#include "engine/ops/activation.h"
#include "engine/ops/spatial.h"

namespace fovea::engine::ops {

// One step applied to the convolution result, in order: add the residual input, or apply an activation.
using ConvPostOp = PostOp;

// `post_ops` as oneDNN post-ops (each activation as its eltwise chain), for the primitives that take them.
dnnl::post_ops BuildPostOps(const std::vector<ConvPostOp>& post_ops);

// Whether every activation among `post_ops`, and `next` after them, can run as one primitive's oneDNN post-ops
// (FusesAsPostOps over their joined eltwise chains).
bool PostOpsFuse(const std::vector<ConvPostOp>& post_ops, const ConvPostOp& next);

struct ConvParams {
  WindowAttributes window;  // window.kernel may be empty: taken from W
  int64_t group = 1;
  std::vector<ConvPostOp> post_ops;  // at most one kSum
};

// One 2-D convolution in oneDNN's terms, for given input and weight shapes. The engine's Conv (Emit, Backward) and the
// trainer's convolution layer build their oneDNN primitives from it, so a convolution is set up in one place.
struct ConvProblem {
  dnnl::memory::dims src, weights, bias, dst;  // weights with a leading group axis when grouped; bias empty if none
  dnnl::memory::dims strides, dilations, pads_begin, pads_end;  // dilations counted from 0, as oneDNN counts them

  // Descriptors over the given layouts (format_tag::any lets oneDNN choose); the bias, if any, is plain f32.
  dnnl::convolution_forward::desc Forward(dnnl::prop_kind prop, dnnl::algorithm algorithm,
                                          const dnnl::memory::desc& src_md, const dnnl::memory::desc& weights_md,
                                          const dnnl::memory::desc& dst_md) const;
  dnnl::convolution_backward_data::desc BackwardData(const dnnl::memory::desc& src_md,
                                                     const dnnl::memory::desc& weights_md,
                                                     const dnnl::memory::desc& dst_md) const;
  dnnl::convolution_backward_weights::desc BackwardWeights(const dnnl::memory::desc& src_md,
                                                           const dnnl::memory::desc& weights_md,
                                                           const dnnl::memory::desc& dst_md) const;
  // The weights' plain f32 layout (oihw, or goihw when grouped): how ONNX stores them.
  dnnl::memory::desc PlainWeights() const;
};

// Inputs: X [N, C, H, W], W [M, C/group, kH, kW], optional B [M], and, when post_ops has a sum, the residual
// [N, M, oH, oW] as the fourth input. Output: Y [N, M, oH, oW].
class Conv final : public Op {
 public:
  static StatusOr<std::unique_ptr<Conv>> Create(const ConvParams& params);

  std::string_view type() const override { return "Conv"; }
  const ConvParams& params() const { return params_; }
  bool has_sum() const;
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  // Winograd convolutions read only nChw16c, so they ask their producer for it; other convolutions take any layout.
  std::optional<dnnl::memory::desc> PreferredFirstInputLayout(PlanBuilder& builder,
                                                              std::span<const PlanValue> inputs) const override;
  // Window geometry of the last two axes (the kernel from the attributes, or else from the weights' shape).
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape> input_shapes) const override;
  std::shared_ptr<const Op> WithPostOp(const PostOp& post_op) const override;
  std::optional<std::vector<Tensor>> AbsorbOutputAffine(std::span<const Tensor> parameters,
                                                        const ChannelAffine& affine) const override;
  bool IsFeatureMapProducer() const override { return true; }
  bool Quantizable() const override { return !has_sum(); }
  // A QuantizedConv with these geometry, group and activations.
  StatusOr<std::shared_ptr<const Op>> Quantized(const QuantizedOperands& operands) const override;
  // A 1×1 convolution without padding or stride on a [N, C, 1, 1] input is a linear map of the channels.
  std::optional<LinearMap> AsLinearMap(std::span<const Tensor> parameters) const override;
  // dX, dW and dB (when there is a bias) by oneDNN's backward-data and backward-weights primitives. Fused activations
  // are differentiated at the pre-activation values, which are recomputed (the fused op keeps only its output); a
  // fused residual sum passes the gradient at its point to the residual (input 3), which must be shaped like Y.
  StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> inputs, std::span<const Tensor> outputs,
                                         std::span<const Tensor> output_grads,
                                         std::span<const bool> needed) const override;

  // The oneDNN problem for X of shape `x` and weights of shape `w`, with their consistency checked.
  StatusOr<ConvProblem> Problem(const Shape& x, const Shape& w, bool has_bias) const;

 private:
  explicit Conv(ConvParams params) : params_(std::move(params)) {}
  // Geometry for input X and weights W shapes, with their consistency checked.
  StatusOr<Window> ResolveGeometry(const Shape& x, const Shape& w) const;
  struct Primitive {
    dnnl::convolution_forward::primitive_desc pd;
    bool winograd = false;
  };
  // The primitive for `problem` (geometry `g`, weights `w`): Winograd where it
  // pays and oneDNN has it, otherwise direct; dst in `dst_layout` when given and oneDNN can write it there, else in
  // oneDNN's choice. Throws dnnl::error when oneDNN has no implementation at all.
  Primitive ChoosePrimitive(PlanBuilder& builder, const ConvProblem& problem, const Window& g, const PlanValue& w,
                            const std::optional<dnnl::memory::desc>& dst_layout) const;
  // Index of the first post-op oneDNN cannot fuse for output `y_shape` (post_ops.size() when all fuse), and the Emit
  // running the post-ops from there as separate ops.
  size_t FirstUnfusablePostOp(const Shape& y_shape, std::span<const PlanValue> inputs) const;
  StatusOr<std::vector<PlanValue>> EmitUnfused(PlanBuilder& builder, std::span<const PlanValue> inputs,
                                               size_t first) const;
  ConvParams params_;
};

}  // namespace fovea::engine::ops
