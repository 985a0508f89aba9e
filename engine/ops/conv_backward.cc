// ConvProblem (a convolution in oneDNN's terms, shared with the trainer) and Conv's backward pass.

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/ops/conv.h"
#include "engine/ops/eager.h"
#include "engine/plan_builder.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

memory::desc Plain(const memory::dims& dims) {
  return {dims, memory::data_type::f32, dims.size() == 5 ? memory::format_tag::goihw : memory::format_tag::abcd};
}

memory::desc BiasDesc(const memory::dims& bias) { return {bias, memory::data_type::f32, memory::format_tag::a}; }

// The convolution's own output before its post-ops, then after each of them but the last: the value each post-op
// reads (an activation's derivative is taken there). A sum post-op adds `residual`.
StatusOr<std::vector<Tensor>> PostOpInputs(const ConvParams& params, std::span<const Tensor> inputs,
                                           const Tensor* residual) {
  ConvParams bare = params;
  bare.post_ops.clear();
  FOVEA_ASSIGN_OR_RETURN(auto conv, Conv::Create(bare));
  FOVEA_ASSIGN_OR_RETURN(auto values, conv->Reference(inputs.subspan(0, std::min<size_t>(inputs.size(), 3))));
  for (size_t i = 0; i + 1 < params.post_ops.size(); ++i) {
    if (params.post_ops[i].kind == ConvPostOp::Kind::kSum) {
      Tensor next = values.back().Clone();
      const auto add = residual->floats();
      auto out = next.floats();
      for (size_t e = 0; e < out.size(); ++e) out[e] += add[e];
      values.push_back(std::move(next));
      continue;
    }
    FOVEA_ASSIGN_OR_RETURN(auto activation, Activation::Create(params.post_ops[i].activation));
    FOVEA_ASSIGN_OR_RETURN(auto next, activation->Reference(std::span<const Tensor>(&values.back(), 1)));
    values.push_back(std::move(next[0]));
  }
  return values;
}

// What flows back through the post-ops: d(loss)/d(convolution output) and, with a sum post-op, d(loss)/d(residual).
struct PostOpGradients {
  Tensor conv;
  Tensor residual;
};

// The gradients through the post-ops from d(loss)/d(Y), last post-op first. A sum passes the gradient on unchanged to
// both of its operands.
StatusOr<PostOpGradients> ThroughPostOps(const ConvParams& params, std::span<const Tensor> inputs,
                                         const Tensor* residual, Tensor diff) {
  PostOpGradients result;
  if (params.post_ops.empty()) {
    result.conv = std::move(diff);
    return result;
  }
  FOVEA_ASSIGN_OR_RETURN(const std::vector<Tensor> pre, PostOpInputs(params, inputs, residual));
  for (size_t i = params.post_ops.size(); i-- > 0;) {
    if (params.post_ops[i].kind == ConvPostOp::Kind::kSum) {
      result.residual = diff.Clone();
      continue;
    }
    FOVEA_ASSIGN_OR_RETURN(auto activation, Activation::Create(params.post_ops[i].activation));
    const Tensor grads[] = {diff};
    FOVEA_ASSIGN_OR_RETURN(auto input_grads, activation->Backward(std::span<const Tensor>(&pre[i], 1), {}, grads, {}));
    diff = std::move(input_grads[0]);
  }
  result.conv = std::move(diff);
  return result;
}

}  // namespace

dnnl::convolution_forward::desc ConvProblem::Forward(dnnl::prop_kind prop, dnnl::algorithm algorithm,
                                                     const memory::desc& src_md, const memory::desc& weights_md,
                                                     const memory::desc& dst_md) const {
  if (bias.empty()) {
    return {prop, algorithm, src_md, weights_md, dst_md, strides, dilations, pads_begin, pads_end};
  }
  return {prop, algorithm, src_md, weights_md, BiasDesc(bias), dst_md, strides, dilations, pads_begin, pads_end};
}

dnnl::convolution_backward_data::desc ConvProblem::BackwardData(const memory::desc& src_md,
                                                                const memory::desc& weights_md,
                                                                const memory::desc& dst_md) const {
  return {dnnl::algorithm::convolution_direct, src_md, weights_md, dst_md, strides, dilations, pads_begin, pads_end};
}

dnnl::convolution_backward_weights::desc ConvProblem::BackwardWeights(const memory::desc& src_md,
                                                                      const memory::desc& weights_md,
                                                                      const memory::desc& dst_md) const {
  if (bias.empty()) {
    return {dnnl::algorithm::convolution_direct, src_md, weights_md, dst_md, strides, dilations, pads_begin, pads_end};
  }
  return {dnnl::algorithm::convolution_direct,
          src_md,
          weights_md,
          BiasDesc(bias),
          dst_md,
          strides,
          dilations,
          pads_begin,
          pads_end};
}

memory::desc ConvProblem::PlainWeights() const { return Plain(weights); }

StatusOr<ConvProblem> Conv::Problem(const Shape& x, const Shape& w, bool has_bias) const {
  FOVEA_ASSIGN_OR_RETURN(const Window g, ResolveGeometry(x, w));
  ConvProblem problem;
  problem.src = ToDims(x);
  problem.weights =
      params_.group == 1 ? ToDims(w) : memory::dims{params_.group, w[0] / params_.group, w[1], w[2], w[3]};
  if (has_bias) problem.bias = {w[0]};
  problem.dst = {x[0], w[0], g.output[0], g.output[1]};
  problem.strides = {g.strides[0], g.strides[1]};
  problem.dilations = {g.dilations[0] - 1, g.dilations[1] - 1};  // ONNX counts dilation from 1 (no gaps), oneDNN from 0
  problem.pads_begin = {g.pads_begin[0], g.pads_begin[1]};
  problem.pads_end = {g.pads_end[0], g.pads_end[1]};
  return problem;
}

StatusOr<std::vector<Tensor>> Conv::Backward(std::span<const Tensor> inputs, std::span<const Tensor> /*outputs*/,
                                             std::span<const Tensor> output_grads, std::span<const bool> needed) const {
  if (inputs.size() < 2 || output_grads.empty()) return InvalidArgument("Conv backward needs X, W and dY");
  constexpr size_t kResidualInput = 3;
  const Tensor& x = inputs[0];
  const Tensor& w = inputs[1];
  const bool has_bias = inputs.size() > 2 && inputs[2].has_data();
  for (size_t i = 0; i < std::min<size_t>(inputs.size(), 3); ++i) {
    if (inputs[i].has_data() && inputs[i].dtype() != DataType::kFloat32) {
      return InvalidArgument("Conv backward needs float32 operands");
    }
  }
  FOVEA_ASSIGN_OR_RETURN(const ConvProblem problem, Problem(x.shape(), w.shape(), has_bias));
  if (output_grads[0].shape() != Shape(problem.dst.begin(), problem.dst.end())) {
    return InvalidArgument("dY " + ShapeToString(output_grads[0].shape()) + " does not match Conv's output");
  }
  const Tensor* residual = nullptr;
  if (has_sum()) {
    if (inputs.size() <= kResidualInput || !inputs[kResidualInput].has_data() ||
        inputs[kResidualInput].dtype() != DataType::kFloat32) {
      return InvalidArgument("Conv backward with a fused sum needs the float32 residual input");
    }
    residual = &inputs[kResidualInput];
    // A residual that broadcasts runs as a separate sum (Conv::Emit), and its gradient would need a reduction.
    if (residual->shape() != output_grads[0].shape()) {
      return Unimplemented("Conv backward with a fused sum needs a residual shaped like the output, got " +
                           ShapeToString(residual->shape()));
    }
  }
  FOVEA_ASSIGN_OR_RETURN(PostOpGradients through, ThroughPostOps(params_, inputs, residual, output_grads[0]));
  const Tensor& diff = through.conv;

  Eager eager;
  const memory::desc src_md = Plain(problem.src), dst_md = Plain(problem.dst), weights_md = problem.PlainWeights();
  const dnnl::convolution_forward::primitive_desc forward(
      problem.Forward(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, src_md, weights_md,
                      dst_md),
      eager.engine());
  const dnnl::convolution_backward_data::primitive_desc data(problem.BackwardData(src_md, weights_md, dst_md),
                                                             eager.engine(), forward);
  std::vector<Tensor> grads(inputs.size());
  grads[0] = Tensor(DataType::kFloat32, x.shape());
  eager.Run(dnnl::convolution_backward_data(data), {{DNNL_ARG_DIFF_DST, eager.Memory(diff, dst_md)},
                                                    {DNNL_ARG_WEIGHTS, eager.Memory(w, weights_md)},
                                                    {DNNL_ARG_DIFF_SRC, eager.Memory(grads[0], src_md)}});
  if (GradientNeeded(needed, 1) || (has_bias && GradientNeeded(needed, 2))) {
    const dnnl::convolution_backward_weights::primitive_desc weights(
        problem.BackwardWeights(src_md, weights_md, dst_md), eager.engine(), forward);
    grads[1] = Tensor(DataType::kFloat32, w.shape());
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, eager.Memory(x, src_md)},
                                            {DNNL_ARG_DIFF_DST, eager.Memory(diff, dst_md)},
                                            {DNNL_ARG_DIFF_WEIGHTS, eager.Memory(grads[1], weights_md)}};
    if (has_bias) {
      grads[2] = Tensor(DataType::kFloat32, inputs[2].shape());
      args[DNNL_ARG_DIFF_BIAS] = eager.Memory(grads[2], weights.diff_bias_desc());
    }
    eager.Run(dnnl::convolution_backward_weights(weights), args);
  }
  if (residual != nullptr) grads[kResidualInput] = std::move(through.residual);
  return grads;
}

}  // namespace fovea::engine::ops
