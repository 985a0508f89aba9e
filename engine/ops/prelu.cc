#include "engine/ops/prelu.h"

#include <algorithm>

#include "engine/ops/broadcast.h"

namespace fovea::engine::ops {
namespace {

// Checks that `slope` broadcasts to `x` without growing it (unidirectional broadcasting).
Status CheckSlope(const Shape& x, const Shape& slope) {
  const StatusOr<Shape> out = BroadcastShapes(x, slope);
  if (!out.ok() || *out != x) {
    return InvalidArgument("PRelu slope " + ShapeToString(slope) + " does not broadcast to X " + ShapeToString(x));
  }
  return OkStatus();
}

// The reference kernel, and the host step where oneDNN's prelu declines.
Status Compute(const Tensor& x, const Tensor& slope, Tensor& y) {
  const float* xp = x.data<float>();
  const float* sp = slope.data<float>();
  float* yp = y.data<float>();
  ForEachBroadcast(x.shape(), x.shape(), slope.shape(), [&](int64_t flat, int64_t, int64_t is) {
    yp[flat] = xp[flat] < 0.0f ? sp[is] * xp[flat] : xp[flat];
  });
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<PRelu>> PRelu::Create() { return std::unique_ptr<PRelu>(new PRelu()); }

StatusOr<std::vector<Tensor>> PRelu::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("PRelu needs X and slope");
  }
  if (inputs[0].dtype() != DataType::kFloat32 || inputs[1].dtype() != DataType::kFloat32) {
    return InvalidArgument("PRelu needs float32 X and slope");
  }
  FOVEA_RETURN_IF_ERROR(CheckSlope(inputs[0].shape(), inputs[1].shape()));
  Tensor y(DataType::kFloat32, inputs[0].shape());
  FOVEA_RETURN_IF_ERROR(Compute(inputs[0], inputs[1], y));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> PRelu::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() != 2 || !inputs[0].present() || !inputs[1].present()) {
    return InvalidArgument("PRelu needs X and slope");
  }
  const PlanValue& x = inputs[0];
  const PlanValue& slope = inputs[1];
  if (x.dtype != DataType::kFloat32 || slope.dtype != DataType::kFloat32) {
    return Unimplemented("PRelu on runtime values needs float32 X and slope");
  }
  FOVEA_RETURN_IF_ERROR(CheckSlope(x.shape, slope.shape));
  if (!x.shape.empty() && !x.is_constant()) {
    // oneDNN reads the slope at X's rank, with 1s along the axes it is shared on.
    const Shape weights_shape = PadRank(slope.shape, x.shape.size());
    const dnnl::memory::desc src_desc = WithDataType(x.desc, dnnl::memory::data_type::f32);
    const dnnl::memory::desc weights_desc = PlainDesc(weights_shape);
    try {
      const auto pd = dnnl::prelu_forward::primitive_desc({dnnl::prop_kind::forward_inference, src_desc, weights_desc},
                                                          builder.DefaultAttr(), builder.engine());
      const PlanValue weights = slope.is_constant()
                                    ? PlanValue::Constant(slope.constant->Reshaped(weights_shape).value())
                                    : builder.Alias(builder.Plain(slope), weights_shape);
      std::vector<PlanArg> args = {builder.Arg(DNNL_ARG_SRC, x, pd.src_desc()),
                                   builder.Arg(DNNL_ARG_WEIGHTS, weights, pd.weights_desc())};
      PlanValue y = builder.NewValue(x.shape, pd.dst_desc());
      args.push_back({DNNL_ARG_DST, y.id, {}});
      builder.AddStep(dnnl::prelu_forward(pd), std::move(args), pd.scratchpad_desc());
      return std::vector<PlanValue>{y};
    } catch (const dnnl::error&) {
      // No oneDNN implementation for this broadcast: the host step below computes it.
    }
  }
  HostKernel kernel = [](std::span<const Tensor> in, std::span<Tensor> out) { return Compute(in[0], in[1], out[0]); };
  return builder.AddHostStep(std::move(kernel), inputs, {x.shape}, {DataType::kFloat32});
}

StatusOr<std::vector<Tensor>> PRelu::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                              std::span<const Tensor> output_grads,
                                              std::span<const bool> /*needed*/) const {
  if (inputs.size() != 2 || !inputs[0].has_data() || !inputs[1].has_data() || output_grads.empty()) {
    return InvalidArgument("PRelu backward needs X, slope and dY");
  }
  const Tensor& x = inputs[0];
  const Tensor& slope = inputs[1];
  FOVEA_RETURN_IF_ERROR(CheckSlope(x.shape(), slope.shape()));
  if (output_grads[0].shape() != x.shape()) return InvalidArgument("dY does not match X");
  Tensor dx(DataType::kFloat32, x.shape());
  std::vector<double> dslope(static_cast<size_t>(slope.num_elements()), 0.0);
  const float* xp = x.data<float>();
  const float* sp = slope.data<float>();
  const float* g = output_grads[0].data<float>();
  float* dxp = dx.data<float>();
  ForEachBroadcast(x.shape(), x.shape(), slope.shape(), [&](int64_t flat, int64_t, int64_t is) {
    const bool negative = xp[flat] < 0.0f;
    dxp[flat] = negative ? sp[is] * g[flat] : g[flat];
    if (negative) dslope[is] += static_cast<double>(g[flat]) * xp[flat];
  });
  Tensor ds(DataType::kFloat32, slope.shape());
  std::copy(dslope.begin(), dslope.end(), ds.data<float>());
  return std::vector<Tensor>{dx, ds};
}

}  // namespace fovea::engine::ops
