#include "engine/localization/backward.h"

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/localization/head.h"
#include "engine/ops/activation.h"
#include "engine/ops/conv.h"
#include "engine/ops/pool.h"
#include "engine/plan_builder.h"

namespace fovea::engine::localization {
namespace {

using dnnl::memory;

constexpr int64_t kImageRank = 4;

// The primitives are created and run on the calling thread with the library's own scratchpad: nothing is shared
// between calls but the engine, which oneDNN allows.
struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
};

memory Mem(Context& context, const Tensor& tensor) {
  return {PlainDesc(tensor.shape()), context.engine, const_cast<void*>(tensor.raw_data())};
}

const Tensor* Initializer(const Graph& graph, const Node& node, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input].empty()) return nullptr;
  const auto found = graph.initializers.find(node.inputs[input]);
  return found == graph.initializers.end() ? nullptr : &found->second;
}

// d/d(data) of an activation; `use_dst` algorithms take the activation's output as `data`, the others its input.
Tensor EltwiseBackward(Context& context, dnnl::algorithm algorithm, float alpha, float beta, const Tensor& data,
                       const Tensor& diff_dst, bool use_dst) {
  Tensor diff_src(DataType::kFloat32, data.shape());
  const memory::desc md = PlainDesc(data.shape());
  const auto forward = dnnl::eltwise_forward::primitive_desc(
      {dnnl::prop_kind::forward_training, algorithm, md, alpha, beta}, context.engine);
  const auto backward =
      dnnl::eltwise_backward::primitive_desc({algorithm, md, md, alpha, beta}, context.engine, forward);
  dnnl::eltwise_backward(backward).execute(context.stream, {{use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC, Mem(context, data)},
                                                            {DNNL_ARG_DIFF_DST, Mem(context, diff_dst)},
                                                            {DNNL_ARG_DIFF_SRC, Mem(context, diff_src)}});
  context.stream.wait();
  return diff_src;
}

// The derivative of a fused activation expressed through its output, which is all a fused Conv keeps.
StatusOr<dnnl::algorithm> UseDstAlgorithm(const ops::ActivationParams& params) {
  switch (params.kind) {
    case ops::ActivationKind::kRelu:
    case ops::ActivationKind::kLeakyRelu:
      if (params.alpha < 0.0f) break;
      return dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
    case ops::ActivationKind::kClip:
      return dnnl::algorithm::eltwise_clip_v2_use_dst_for_bwd;
    case ops::ActivationKind::kSigmoid:
      return dnnl::algorithm::eltwise_logistic_use_dst_for_bwd;
    default:
      return Unimplemented("a fused " + std::string(ops::ActivationName(params.kind)) +
                           " cannot be differentiated from its output");
  }
  return Unimplemented("a fused LeakyRelu with a negative slope cannot be differentiated from its output");
}

StatusOr<Tensor> ConvBackward(Context& context, const Graph& graph, const Node& node, const ops::Conv& conv,
                              const Tensor& src, const Tensor& dst, Tensor diff) {
  const auto& post_ops = conv.params().post_ops;
  if (conv.has_sum() || post_ops.size() > 1) {
    return Unimplemented("Conv node '" + node.name + "' has a fused residual sum; Grad-CAM cannot pass through it");
  }
  if (!post_ops.empty()) {
    FOVEA_ASSIGN_OR_RETURN(const dnnl::algorithm algorithm, UseDstAlgorithm(post_ops[0].activation));
    const ops::EltwiseSpec spec = ops::ToEltwise(post_ops[0].activation).front();  // one step for those kinds
    diff = EltwiseBackward(context, algorithm, spec.alpha, spec.beta, dst, diff, true);
  }
  const Tensor* w = Initializer(graph, node, 1);
  if (w == nullptr || src.rank() != kImageRank) {
    return Unimplemented("Conv node '" + node.name + "' needs constant weights and a 4-D input for Grad-CAM");
  }
  FOVEA_ASSIGN_OR_RETURN(const ops::Window g,
                         ops::ResolveWindow(conv.params().window, {src.dim(2), src.dim(3)}, {w->dim(2), w->dim(3)}));
  const int64_t group = conv.params().group;
  const memory::desc w_md = group == 1 ? PlainDesc(w->shape())
                                       : memory::desc({group, w->dim(0) / group, w->dim(1), w->dim(2), w->dim(3)},
                                                      memory::data_type::f32, memory::format_tag::goihw);
  const memory::desc src_md = PlainDesc(src.shape()), dst_md = PlainDesc(dst.shape());
  const memory::dims strides = {g.strides[0], g.strides[1]}, dilations = {g.dilations[0] - 1, g.dilations[1] - 1};
  const memory::dims pad_l = {g.pads_begin[0], g.pads_begin[1]}, pad_r = {g.pads_end[0], g.pads_end[1]};
  const auto forward =
      dnnl::convolution_forward::primitive_desc({dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                                 src_md, w_md, dst_md, strides, dilations, pad_l, pad_r},
                                                context.engine);
  const auto backward = dnnl::convolution_backward_data::primitive_desc(
      {dnnl::algorithm::convolution_direct, src_md, w_md, dst_md, strides, dilations, pad_l, pad_r}, context.engine,
      forward);
  Tensor diff_src(DataType::kFloat32, src.shape());
  dnnl::convolution_backward_data(backward).execute(
      context.stream, {{DNNL_ARG_DIFF_DST, Mem(context, diff)},
                       {DNNL_ARG_WEIGHTS, memory(w_md, context.engine, const_cast<void*>(w->raw_data()))},
                       {DNNL_ARG_DIFF_SRC, Mem(context, diff_src)}});
  context.stream.wait();
  return diff_src;
}

StatusOr<Tensor> PoolBackward(Context& context, const ops::Pool& pool, const Tensor& src, const Tensor& diff) {
  if (src.rank() != kImageRank) return Unimplemented("pooling needs a 4-D input for Grad-CAM");
  ops::Window g;
  if (pool.params().global) {
    g = {{src.dim(2), src.dim(3)}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, {1, 1}};
  } else {
    FOVEA_ASSIGN_OR_RETURN(
        g, ops::ResolveWindow(pool.params().window, {src.dim(2), src.dim(3)}, pool.params().window.kernel));
  }
  dnnl::algorithm algorithm = dnnl::algorithm::pooling_max;
  if (pool.params().kind == ops::PoolParams::Kind::kAverage) {
    algorithm = pool.params().count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                                : dnnl::algorithm::pooling_avg_exclude_padding;
  }
  const Shape dst_shape = {src.dim(0), src.dim(1), g.output[0], g.output[1]};
  const memory::desc src_md = PlainDesc(src.shape()), dst_md = PlainDesc(dst_shape);
  const memory::dims strides = {g.strides[0], g.strides[1]}, kernel = {g.kernel[0], g.kernel[1]};
  const memory::dims dilations = {g.dilations[0] - 1, g.dilations[1] - 1};
  const memory::dims pad_l = {g.pads_begin[0], g.pads_begin[1]}, pad_r = {g.pads_end[0], g.pads_end[1]};
  const auto forward = dnnl::pooling_v2_forward::primitive_desc(
      {dnnl::prop_kind::forward_training, algorithm, src_md, dst_md, strides, kernel, dilations, pad_l, pad_r},
      context.engine);
  const auto backward = dnnl::pooling_v2_backward::primitive_desc(
      {algorithm, src_md, dst_md, strides, kernel, dilations, pad_l, pad_r}, context.engine, forward);
  std::unordered_map<int, memory> args;
  if (algorithm == dnnl::algorithm::pooling_max) {
    // Max pooling's gradient goes to the argmax of each window, which only a forward-training pass records.
    memory workspace(forward.workspace_desc(), context.engine);
    Tensor dst(DataType::kFloat32, dst_shape);
    dnnl::pooling_v2_forward(forward).execute(
        context.stream,
        {{DNNL_ARG_SRC, Mem(context, src)}, {DNNL_ARG_DST, Mem(context, dst)}, {DNNL_ARG_WORKSPACE, workspace}});
    args[DNNL_ARG_WORKSPACE] = workspace;
  }
  Tensor diff_src(DataType::kFloat32, src.shape());
  args[DNNL_ARG_DIFF_DST] = Mem(context, diff);
  args[DNNL_ARG_DIFF_SRC] = Mem(context, diff_src);
  dnnl::pooling_v2_backward(backward).execute(context.stream, args);
  context.stream.wait();
  return diff_src;
}

// dX = dY·W for Y = X·Wᵀ (+ bias), W [outputs, inputs].
Tensor LinearBackward(Context& context, const Tensor& weights, const Tensor& src, const Tensor& diff) {
  const int64_t batch = src.dim(0);
  const memory::desc src_md = PlainDesc({batch, weights.dim(1)}), w_md = PlainDesc(weights.shape());
  const memory::desc dst_md = PlainDesc({batch, weights.dim(0)});
  const auto forward = dnnl::inner_product_forward::primitive_desc(
      {dnnl::prop_kind::forward_training, src_md, w_md, dst_md}, context.engine);
  const auto backward =
      dnnl::inner_product_backward_data::primitive_desc({src_md, w_md, dst_md}, context.engine, forward);
  Tensor diff_src(DataType::kFloat32, src.shape());
  dnnl::inner_product_backward_data(backward).execute(
      context.stream, {{DNNL_ARG_DIFF_DST, Mem(context, diff)},
                       {DNNL_ARG_WEIGHTS, Mem(context, weights)},
                       {DNNL_ARG_DIFF_SRC, memory(src_md, context.engine, diff_src.raw_data())}});
  context.stream.wait();
  return diff_src;
}

// The op's own Backward (Op::Backward) on the node's forward values: constants from the graph, `src` as the input
// the chain runs through; d(score)/d(that input).
StatusOr<Tensor> OpBackward(const Graph& graph, const Node& node, const std::string& input, const Tensor& src,
                            const Tensor& dst, const Tensor& diff) {
  std::vector<Tensor> inputs;
  size_t chain_input = node.inputs.size();
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == input && chain_input == node.inputs.size()) {
      chain_input = i;
      inputs.push_back(src);
      continue;
    }
    const Tensor* constant = Initializer(graph, node, i);
    if (constant == nullptr && !node.inputs[i].empty()) {
      return Unimplemented("Grad-CAM cannot differentiate " + std::string(node.op->type()) + " node '" + node.name +
                           "': input '" + node.inputs[i] + "' is computed at run time outside the chain");
    }
    inputs.push_back(constant == nullptr ? Tensor() : *constant);
  }
  const std::vector<Tensor> outputs = {dst}, grads = {diff};
  auto input_grads = node.op->Backward(inputs, outputs, grads);
  if (!input_grads.ok()) {
    return Unimplemented("Grad-CAM cannot differentiate " + std::string(node.op->type()) + " node '" + node.name +
                         "': " + input_grads.status().message());
  }
  if (chain_input >= input_grads->size() || !(*input_grads)[chain_input].has_data()) {
    return Internal(std::string(node.op->type()) + " returned no gradient for its input '" + input + "'");
  }
  return (*input_grads)[chain_input];
}

StatusOr<Tensor> NodeBackward(Context& context, const Graph& graph, const Node& node, const std::string& input,
                              const Tensor& src, const Tensor& dst, const Tensor& diff) {
  const Op& op = *node.op;
  if (op.IsView()) return diff.Reshaped(src.shape());
  if (const auto* conv = dynamic_cast<const ops::Conv*>(&op)) {
    return ConvBackward(context, graph, node, *conv, src, dst, diff);
  }
  if (const auto* pool = dynamic_cast<const ops::Pool*>(&op)) return PoolBackward(context, *pool, src, diff);
  if (src.rank() == 2 && node.inputs.size() > 1 && node.inputs[0] == input) {
    if (auto map = LinearMapOf(graph, node); map.ok()) return LinearBackward(context, map->weights, src, diff);
  }
  if (op.IsResidualSum() && node.inputs.size() == 2 && src.shape() == dst.shape()) {
    const std::string& other = node.inputs[0] == input ? node.inputs[1] : node.inputs[0];
    if (graph.initializers.contains(other)) return diff;
  }
  return OpBackward(graph, node, input, src, dst, diff);
}

}  // namespace

StatusOr<Tensor> BackwardThroughChain(const Graph& graph, const std::vector<int>& chain, const std::string& from,
                                      const std::map<std::string, Tensor>& forward, Tensor diff_output) {
  Context context;
  Tensor diff = std::move(diff_output);
  try {
    for (size_t i = chain.size(); i-- > 0;) {
      const Node& node = graph.nodes[static_cast<size_t>(chain[i])];
      const std::string& input = i == 0 ? from : graph.nodes[static_cast<size_t>(chain[i - 1])].outputs.at(0);
      const auto src = forward.find(input);
      const auto dst = forward.find(node.outputs.at(0));
      if (src == forward.end() || dst == forward.end()) {
        return Internal("the forward values of node '" + node.name + "' were not kept");
      }
      FOVEA_ASSIGN_OR_RETURN(diff, diff.Reshaped(dst->second.shape()));
      FOVEA_ASSIGN_OR_RETURN(diff, NodeBackward(context, graph, node, input, src->second, dst->second, diff));
    }
  } catch (const dnnl::error& error) {
    return Unimplemented(std::string("oneDNN cannot run this backward pass: ") + error.what());
  }
  return diff;
}

}  // namespace fovea::engine::localization
