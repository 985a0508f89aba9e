#pragma once
// The op interface. Every op in engine/ops/ implements it once, and everything else in the engine asks the op rather
// than testing its type: the plan compiler (Emit), constant folding and the test oracle (Reference), heatmap mapping
// and the fully-convolutional rewrite (Geometry), the inference passes (FusedActivation, IsResidualSum, IsView),
// int8 quantization (Quantizable) and Grad-CAM and training (Backward). docs/engine.md, "Adding an op", lists what a
// new op must provide.

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/ops/activation_params.h"
#include "engine/ops/arithmetic_params.h"
#include "engine/plan_builder.h"
#include "engine/tensor.h"

namespace fovea::engine {

// How an op's output pixel grid (the last two axes of a rank-4 value) relates to its first input's grid, per axis
// (height, width): output pixel i reads input pixels [i·stride − offset, i·stride − offset + window). Upsampling ops
// say it with `upsample`: output pixel i sits on input pixel i / upsample (stride and window 1).
struct SpatialGeometry {
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> window = {1, 1};
  std::array<int64_t, 2> offset = {0, 0};
  std::array<int64_t, 2> upsample = {1, 1};
  // The op collapses the spatial axes (global pooling, Flatten into a vector, a classifier): there is no grid after it.
  bool global = false;

  // An op that keeps every pixel where it is (elementwise ops, 1×1 windows, normalization over channels).
  static SpatialGeometry Pointwise() { return {}; }
  bool operator==(const SpatialGeometry&) const = default;

  static SpatialGeometry Global() {
    SpatialGeometry g;
    g.global = true;
    return g;
  }
};

class Op;

// One step a producing op (Conv, ConvTranspose) can apply to its result in the same pass over dst, in order: add a
// residual input (oneDNN's sum post-op), or apply an activation (eltwise post-ops).
struct PostOp {
  enum class Kind { kSum, kActivation } kind = Kind::kActivation;
  ops::ActivationParams activation;  // for kActivation

  static PostOp Sum() { return {Kind::kSum, {}}; }
  static PostOp Act(const ops::ActivationParams& a) { return {Kind::kActivation, a}; }
};

// y[n, c, ...] = x[n, c, ...] · scale[c] + shift[c]: what BatchNormalization computes in inference, and what a
// producing op can fold into its weights and bias.
struct ChannelAffine {
  std::vector<double> scale, shift;
};

// A linear map of a feature vector, y = x · weightsᵀ + bias with weights [outputs, features]: what a classifier's Gemm,
// MatMul or 1×1 convolution computes. CAM, Grad-CAM and the fully-convolutional rewrite read a head through this.
struct LinearMap {
  Tensor weights;  // float32 [outputs, features]
  Tensor bias;     // float32 [outputs]
};

// The scales int8 quantization found for an op's operands: engine/passes FuseQuantizedConvs reads them from the
// QuantizeLinear/DequantizeLinear nodes around the op.
struct QuantizedOperands {
  DataType input_type = DataType::kUint8;
  float input_scale = 1.0f;          // x = input_scale * x_q
  std::vector<float> weight_scales;  // w[m] = weight_scales[m] * w_q[m] (one value = per tensor)
  bool quantized_output = false;     // the output is requantized (else float32)
  DataType output_type = DataType::kUint8;
  float output_scale = 1.0f;
};

// An op on 8-bit integers as the float op it stands for, with the scales of its int8 weights.
struct FloatForm {
  std::shared_ptr<const Op> op;
  std::vector<float> weight_scales;
};

// A QuantizeLinear (quantize) or DequantizeLinear step, with the axis a 1-D scale runs along.
struct QuantizationStep {
  bool quantize = false;
  int64_t axis = 1;
};

class Op {
 public:
  virtual ~Op() = default;

  // The ONNX operator this op implements ("Conv"), for messages.
  virtual std::string_view type() const = 0;

  // Computes the outputs with naive loops on plain tensors. An absent optional input is a Tensor without data.
  virtual StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const = 0;

  // Adds the primitives computing this op to `builder` and returns the output values. Inputs may be runtime values or
  // plan-time constants (weights); an absent optional input is a PlanValue that is not present().
  virtual StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const = 0;

  // True when the op may run on values known at plan time through Reference (constant folding). Ops whose reference
  // kernel is slow on large weights still fold; only ops with side effects would say no.
  virtual bool FoldsConstants() const { return true; }
  // The layout this op would read its first input in, for the producer of that input to write directly instead of
  // leaving a reorder between the two; nullopt when the op reads whatever layout it is given. Asked before the first
  // input exists: inputs[0] carries only its shape, the other inputs are what the plan knows of them so far.
  virtual std::optional<dnnl::memory::desc> PreferredFirstInputLayout(PlanBuilder& /*builder*/,
                                                                      std::span<const PlanValue> /*inputs*/) const {
    return std::nullopt;
  }

  // How the op maps pixels of its first input to pixels of its output. `input_shapes` holds what is known of the
  // inputs' shapes (a constant's shape, e.g. a Conv's weights; an empty Shape where unknown). An op that cannot say
  // answers FAILED_PRECONDITION naming itself, so localization refuses a model instead of mapping heatmaps wrongly.
  virtual StatusOr<SpatialGeometry> Geometry(std::span<const Shape> /*input_shapes*/) const {
    return FailedPrecondition(std::string(type()) + " does not describe how it maps pixels");
  }
  // Geometry when some inputs are constants: `parameters` are inputs 1... (a Tensor without data where an input is
  // computed at run time). Ops whose geometry depends on a constant input's values (Pad's pads) override this.
  virtual StatusOr<SpatialGeometry> GeometryWith(std::span<const Shape> input_shapes,
                                                 std::span<const Tensor> /*parameters*/) const {
    return Geometry(input_shapes);
  }

  // Fusion role: the elementwise function this op applies to its first input when it can run as a oneDNN eltwise
  // post-op of the op producing that input. `parameters` are its other inputs, known at plan time (Clip's bounds);
  // nullopt when the op is not such a function or its parameters are not constants.
  virtual std::optional<ops::ActivationParams> FusedActivation(std::span<const Tensor> /*parameters*/) const {
    return std::nullopt;
  }
  // Fusion role: the op adds its two inputs elementwise with the same shape, so a convolution producing one of them can
  // accumulate into the other (oneDNN's sum post-op).
  virtual bool IsResidualSum() const { return false; }
  // The output is input 0's elements unchanged, only seen with another shape (Identity, Dropout, Flatten, Reshape,
  // Squeeze): passes may remove it and backward passes reshape the gradient.
  virtual bool IsView() const { return false; }
  // Fusion role: this op with `post_op` appended to its post-ops, or nullptr when it takes no (more) such post-op.
  virtual std::shared_ptr<const Op> WithPostOp(const PostOp& /*post_op*/) const { return nullptr; }
  // Fusion role: the per-channel affine this op computes on input 0 given its constant `parameters` (inputs 1...), or
  // nullopt when it is not one (or a parameter is missing).
  virtual std::optional<ChannelAffine> AsChannelAffine(std::span<const Tensor> /*parameters*/) const {
    return std::nullopt;
  }
  // Fusion role: the constant inputs (1...) that make this op also apply `affine` to its output channels (a Conv
  // scales its weights and bias), given the current ones (`parameters`, an absent bias without data); nullopt when it
  // cannot absorb it.
  virtual std::optional<std::vector<Tensor>> AbsorbOutputAffine(std::span<const Tensor> /*parameters*/,
                                                                const ChannelAffine& /*affine*/) const {
    return std::nullopt;
  }
  // The output is input 0 itself (Identity, Dropout): passes remove the node.
  virtual bool IsIdentity() const { return false; }
  // A learned bank of spatial filters (Conv, ConvTranspose): its output is a feature map Grad-CAM can target.
  virtual bool IsFeatureMapProducer() const { return false; }
  // Global average pooling over the spatial axes, the head CAM needs.
  virtual bool IsGlobalAverage() const { return false; }
  // softmax over the class axis of a classifier's scores (not LogSoftmax).
  virtual bool IsSoftmax() const { return false; }
  // The fully-convolutional rewrite: this global op (global pooling) as the same op over a fixed `window` (height,
  // width) with stride 1, so it slides over a larger image; nullptr when the op has no such form.
  virtual std::shared_ptr<const Op> WindowedOver(std::array<int64_t, 2> /*window*/) const { return nullptr; }
  // The linear map this op applies to a [N, features] input given its constant `parameters` (inputs 1...), or nullopt.
  virtual std::optional<LinearMap> AsLinearMap(std::span<const Tensor> /*parameters*/) const { return std::nullopt; }

  // Whether int8 quantization (fovea-train quantize, engine/passes FuseQuantizedConvs) may run this op on 8-bit
  // integers with per-channel weight scales.
  virtual bool Quantizable() const { return false; }
  // This op running on 8-bit integers with `operands`' scales (its weights int8); nullptr when it is not Quantizable.
  virtual StatusOr<std::shared_ptr<const Op>> Quantized(const QuantizedOperands& /*operands*/) const {
    return std::shared_ptr<const Op>();
  }
  // For an op on 8-bit integers, the float op it stands for (what Quantized undoes); nullopt for every other op.
  virtual std::optional<FloatForm> Dequantized() const { return std::nullopt; }
  // QuantizeLinear and DequantizeLinear say which they are.
  virtual std::optional<QuantizationStep> AsQuantizationStep() const { return std::nullopt; }
  // Whether running on quantized values and then dequantizing equals dequantizing and then running: max pooling
  // picks one of its inputs, and quantization keeps their order. Such an op may move behind a QuantizeLinear.
  virtual bool CommutesWithQuantization() const { return false; }

  // What passes that recognize formulas written out op by op (engine/layer_norm_pass, engine/channel_shuffle_pass)
  // ask: the binary arithmetic an op performs; the reduction it performs with these constant `parameters`; the
  // target shape of a Reshape (ONNX's: 0 copies a dimension, -1 infers one) with these constant `parameters`; the
  // permutation of a Transpose. nullopt when the op is not one, or its parameters are not constants.
  virtual std::optional<ops::BinaryKind> AsBinary() const { return std::nullopt; }
  virtual std::optional<ops::Reduction> AsReduction(std::span<const Tensor> /*parameters*/) const {
    return std::nullopt;
  }
  virtual std::optional<std::vector<int64_t>> AsReshape(std::span<const Tensor> /*parameters*/) const {
    return std::nullopt;
  }
  virtual std::optional<std::vector<int64_t>> AsPermutation() const { return std::nullopt; }

  // Data gradients: given the forward `inputs` (constants included), the forward `outputs` and d(loss)/d(output) for
  // each output, returns d(loss)/d(input) for each input; an input that takes no gradient (a shape, an index) gets a
  // Tensor without data. `needed` says which inputs' gradients the caller uses (empty = all): an op may leave the
  // others without data, which saves the weight gradients of a convolution or a fully connected layer when only the
  // data gradient is wanted (Grad-CAM), the size of the weights each. UNIMPLEMENTED, naming the op, when the op has
  // no backward.
  virtual StatusOr<std::vector<Tensor>> Backward(std::span<const Tensor> /*inputs*/,
                                                 std::span<const Tensor> /*outputs*/,
                                                 std::span<const Tensor> /*output_grads*/,
                                                 std::span<const bool> /*needed*/) const {
    return Unimplemented(std::string(type()) + " has no backward");
  }
};

// Whether Op::Backward's caller uses input `index`'s gradient (`needed` empty = every input's).
inline bool GradientNeeded(std::span<const bool> needed, size_t index) {
  return needed.empty() || (index < needed.size() && needed[index]);
}

}  // namespace fovea::engine
