#include "engine/ops/activation.h"

#include <cmath>
#include <string>

#include "engine/ops/eager.h"

namespace fovea::engine::ops {
namespace {

constexpr size_t kClipBoundInputs = 2;

// y = activation(x), elementwise: the reference kernel and the host step of kinds without a oneDNN form.
void ApplyToAll(const ActivationParams& params, std::span<const float> x, std::span<float> y) {
  for (size_t i = 0; i < x.size(); ++i) y[i] = ApplyActivation(params, x[i]);
}

PlanValue EmitEltwise(PlanBuilder& builder, const EltwiseSpec& spec, const PlanValue& x) {
  const auto desc =
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, spec.algorithm, x.desc, spec.alpha, spec.beta);
  const auto pd = dnnl::eltwise_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
  PlanValue y = builder.NewValue(x.shape, pd.dst_desc());
  builder.AddStep(dnnl::eltwise_forward(pd), {builder.Arg(DNNL_ARG_SRC, x), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return y;
}

}  // namespace

StatusOr<std::unique_ptr<Activation>> Activation::Create(const ActivationParams& params) {
  if (params.kind == ActivationKind::kClip && params.alpha > params.beta) {
    return InvalidArgument("Clip min " + std::to_string(params.alpha) + " is above max " + std::to_string(params.beta));
  }
  if (params.kind == ActivationKind::kCelu && params.alpha == 0.0f) return InvalidArgument("Celu alpha must not be 0");
  return std::unique_ptr<Activation>(new Activation(params));
}

StatusOr<ActivationParams> Activation::Resolve(std::span<const Tensor> bounds) const {
  ActivationParams p = params_;
  if (p.kind != ActivationKind::kClip) return p;
  for (size_t i = 0; i < bounds.size() && i < kClipBoundInputs; ++i) {
    if (!bounds[i].has_data()) continue;
    if (bounds[i].dtype() != DataType::kFloat32 || bounds[i].num_elements() != 1) {
      return InvalidArgument("Clip bounds must be float32 scalars");
    }
    (i == 0 ? p.alpha : p.beta) = bounds[i].data<float>()[0];
  }
  return p;
}

std::optional<ActivationParams> Activation::FusedActivation(std::span<const Tensor> parameters) const {
  const StatusOr<ActivationParams> resolved = Resolve(parameters);
  if (!resolved.ok()) return std::nullopt;
  const std::vector<EltwiseSpec> chain = ToEltwise(*resolved);
  if (chain.empty() || !FusesAsPostOps(chain)) return std::nullopt;
  return *resolved;
}

StatusOr<std::vector<Tensor>> Activation::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || inputs[0].dtype() != DataType::kFloat32) return InvalidArgument("X must be float32");
  FOVEA_ASSIGN_OR_RETURN(ActivationParams p, Resolve(inputs.subspan(1)));
  Tensor y(DataType::kFloat32, inputs[0].shape());
  ApplyToAll(p, inputs[0].floats(), y.floats());
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Activation::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument(std::string(type()) + " needs X");
  if (inputs[0].dtype != DataType::kFloat32) return Unimplemented(std::string(type()) + " runs on float32 only");
  std::vector<Tensor> bounds;
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].present() && !inputs[i].is_constant()) {
      return Unimplemented("Clip bounds must be constants (initializers or Constant nodes)");
    }
    bounds.push_back(inputs[i].present() ? *inputs[i].constant : Tensor());
  }
  FOVEA_ASSIGN_OR_RETURN(const ActivationParams p, Resolve(bounds));
  const std::vector<EltwiseSpec> chain = ToEltwise(p);
  if (chain.empty()) {
    HostKernel kernel = [p](std::span<const Tensor> in, std::span<Tensor> out) {
      ApplyToAll(p, in[0].floats(), out[0].floats());
      return OkStatus();
    };
    return builder.AddHostStep(std::move(kernel), inputs.subspan(0, 1), {inputs[0].shape}, {DataType::kFloat32});
  }
  PlanValue y = inputs[0];
  for (const EltwiseSpec& spec : chain) y = EmitEltwise(builder, spec, y);
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<Tensor>> Activation::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                   std::span<const Tensor> output_grads,
                                                   std::span<const bool> /*needed*/) const {
  if (inputs.empty() || inputs[0].dtype() != DataType::kFloat32 || output_grads.empty()) {
    return InvalidArgument(std::string(type()) + " backward needs float32 X and dY");
  }
  FOVEA_ASSIGN_OR_RETURN(const ActivationParams p, Resolve(inputs.subspan(1)));
  const auto x = inputs[0].floats();
  const auto dy = output_grads[0].floats();
  if (dy.size() != x.size()) return InvalidArgument("dY does not match X");
  std::vector<Tensor> grads(inputs.size());
  grads[0] = Tensor(DataType::kFloat32, inputs[0].shape());
  const std::vector<EltwiseSpec> chain = ToEltwise(p);
  // oneDNN defines no backward for eltwise_round (its derivative is 0 almost everywhere).
  if (chain.size() == 1 && chain.front().algorithm != dnnl::algorithm::eltwise_round) {
    // One oneDNN eltwise step: its backward primitive, as the trainer's activation layers run it.
    Eager eager;
    const dnnl::memory::desc md = PlainDesc(inputs[0].shape());
    const dnnl::eltwise_forward::primitive_desc forward(
        EltwiseForwardDesc(dnnl::prop_kind::forward_training, chain.front(), md), eager.engine());
    const dnnl::eltwise_backward::primitive_desc backward(EltwiseBackwardDesc(chain.front(), md), eager.engine(),
                                                          forward);
    eager.Run(dnnl::eltwise_backward(backward), {{DNNL_ARG_SRC, eager.Memory(inputs[0])},
                                                 {DNNL_ARG_DIFF_DST, eager.Memory(output_grads[0])},
                                                 {DNNL_ARG_DIFF_SRC, eager.Memory(grads[0])}});
    return grads;
  }
  // Chains (HardSigmoid is linear then clip) and host kinds: the derivative next to the reference definition.
  auto dx = grads[0].floats();
  for (size_t i = 0; i < x.size(); ++i) dx[i] = dy[i] * ActivationDerivative(p, x[i]);
  return grads;
}

}  // namespace fovea::engine::ops
