// LinearProblem: a fully connected layer as oneDNN's inner product, and its backward on host tensors.

#include "engine/ops/eager.h"
#include "engine/ops/gemm.h"
#include "engine/plan_builder.h"

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

memory::desc BiasDesc(const memory::dims& bias) { return {bias, memory::data_type::f32, memory::format_tag::a}; }

}  // namespace

dnnl::inner_product_forward::desc LinearProblem::Forward(dnnl::prop_kind prop, const memory::desc& src_md,
                                                         const memory::desc& weights_md,
                                                         const memory::desc& dst_md) const {
  if (bias.empty()) return {prop, src_md, weights_md, dst_md};
  return {prop, src_md, weights_md, BiasDesc(bias), dst_md};
}

dnnl::inner_product_backward_data::desc LinearProblem::BackwardData(const memory::desc& src_md,
                                                                    const memory::desc& weights_md,
                                                                    const memory::desc& dst_md) const {
  return {src_md, weights_md, dst_md};
}

dnnl::inner_product_backward_weights::desc LinearProblem::BackwardWeights(const memory::desc& src_md,
                                                                          const memory::desc& weights_md,
                                                                          const memory::desc& dst_md) const {
  if (bias.empty()) return {src_md, weights_md, dst_md};
  return {src_md, weights_md, BiasDesc(bias), dst_md};
}

std::vector<Tensor> LinearBackward(const Tensor& x, const Tensor& w, const Tensor& dy, bool weight_gradient) {
  const LinearProblem problem{ToDims(x.shape()), ToDims(w.shape()), {}, ToDims(dy.shape())};
  Eager eager;
  const memory::desc src_md = PlainDesc(x.shape()), weights_md = PlainDesc(w.shape()), dst_md = PlainDesc(dy.shape());
  const dnnl::inner_product_forward::primitive_desc forward(
      problem.Forward(dnnl::prop_kind::forward_training, src_md, weights_md, dst_md), eager.engine());
  const dnnl::inner_product_backward_data::primitive_desc data(problem.BackwardData(src_md, weights_md, dst_md),
                                                               eager.engine(), forward);
  std::vector<Tensor> grads = {Tensor(DataType::kFloat32, x.shape()), Tensor()};
  eager.Run(dnnl::inner_product_backward_data(data), {{DNNL_ARG_DIFF_DST, eager.Memory(dy)},
                                                      {DNNL_ARG_WEIGHTS, eager.Memory(w)},
                                                      {DNNL_ARG_DIFF_SRC, eager.Memory(grads[0])}});
  if (!weight_gradient) return grads;
  const dnnl::inner_product_backward_weights::primitive_desc weights(
      problem.BackwardWeights(src_md, weights_md, dst_md), eager.engine(), forward);
  grads[1] = Tensor(DataType::kFloat32, w.shape());
  eager.Run(dnnl::inner_product_backward_weights(weights), {{DNNL_ARG_SRC, eager.Memory(x)},
                                                            {DNNL_ARG_DIFF_DST, eager.Memory(dy)},
                                                            {DNNL_ARG_DIFF_WEIGHTS, eager.Memory(grads[1])}});
  return grads;
}

}  // namespace fovea::engine::ops
