#include "engine/ops/activation.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fovea::engine::ops {

EltwiseSpec ToEltwise(const ActivationParams& params) {
  switch (params.kind) {
    case ActivationKind::kRelu:
      return {dnnl::algorithm::eltwise_relu, 0.0f, 0.0f};
    case ActivationKind::kLeakyRelu:
      return {dnnl::algorithm::eltwise_relu, params.alpha, 0.0f};
    case ActivationKind::kClip:
      return {dnnl::algorithm::eltwise_clip_v2, params.alpha, params.beta};
    case ActivationKind::kSigmoid:
      return {dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f};
  }
  return {dnnl::algorithm::eltwise_relu, 0.0f, 0.0f};
}

float ApplyActivation(const ActivationParams& params, float x) {
  switch (params.kind) {
    case ActivationKind::kRelu:
      return x > 0.0f ? x : 0.0f;
    case ActivationKind::kLeakyRelu:
      return x >= 0.0f ? x : params.alpha * x;
    case ActivationKind::kClip:
      return std::min(std::max(x, params.alpha), params.beta);
    case ActivationKind::kSigmoid:
      return 1.0f / (1.0f + std::exp(-x));
  }
  return x;
}

StatusOr<std::unique_ptr<Activation>> Activation::Create(const ActivationParams& params) {
  if (params.kind == ActivationKind::kClip && params.alpha > params.beta) {
    return InvalidArgument("Clip min " + std::to_string(params.alpha) + " is above max " + std::to_string(params.beta));
  }
  return std::unique_ptr<Activation>(new Activation(params));
}

std::string_view Activation::type() const {
  switch (params_.kind) {
    case ActivationKind::kRelu:
      return "Relu";
    case ActivationKind::kLeakyRelu:
      return "LeakyRelu";
    case ActivationKind::kClip:
      return "Clip";
    case ActivationKind::kSigmoid:
      return "Sigmoid";
  }
  return "Activation";
}

StatusOr<ActivationParams> Activation::Resolve(std::span<const Tensor> bounds) const {
  ActivationParams p = params_;
  if (p.kind != ActivationKind::kClip) return p;
  for (size_t i = 0; i < bounds.size() && i < 2; ++i) {
    if (!bounds[i].has_data()) continue;
    if (bounds[i].dtype() != DataType::kFloat32 || bounds[i].num_elements() != 1) {
      return InvalidArgument("Clip bounds must be float32 scalars");
    }
    (i == 0 ? p.alpha : p.beta) = bounds[i].data<float>()[0];
  }
  return p;
}

std::optional<ActivationParams> Activation::FusedActivation(std::span<const Tensor> parameters) const {
  auto resolved = Resolve(parameters);
  if (!resolved.ok()) return std::nullopt;
  return *resolved;
}

StatusOr<std::vector<Tensor>> Activation::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || inputs[0].dtype() != DataType::kFloat32) return InvalidArgument("X must be float32");
  FOVEA_ASSIGN_OR_RETURN(ActivationParams p, Resolve(inputs.subspan(1)));
  Tensor y(DataType::kFloat32, inputs[0].shape());
  auto x = inputs[0].floats();
  auto out = y.floats();
  for (size_t i = 0; i < x.size(); ++i) out[i] = ApplyActivation(p, x[i]);
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Activation::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  std::vector<Tensor> bounds;
  for (size_t i = 1; i < inputs.size(); ++i) {
    if (inputs[i].present() && !inputs[i].is_constant()) {
      return Unimplemented("Clip bounds must be constants (initializers or Constant nodes)");
    }
    bounds.push_back(inputs[i].present() ? *inputs[i].constant : Tensor());
  }
  FOVEA_ASSIGN_OR_RETURN(ActivationParams p, Resolve(bounds));
  const PlanValue& x = inputs[0];
  const EltwiseSpec spec = ToEltwise(p);
  auto desc =
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, spec.algorithm, x.desc, spec.alpha, spec.beta);
  auto pd = dnnl::eltwise_forward::primitive_desc(desc, builder.DefaultAttr(), builder.engine());
  PlanValue y = builder.NewValue(x.shape, pd.dst_desc());
  builder.AddStep(dnnl::eltwise_forward(pd), {builder.Arg(DNNL_ARG_SRC, x), {DNNL_ARG_DST, y.id, {}}},
                  pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

}  // namespace fovea::engine::ops
