#include "engine/ops/variadic.h"

#include <algorithm>

#include "engine/ops/binary.h"
#include "engine/ops/broadcast.h"

namespace fovea::engine::ops {
namespace {

using Kind = VariadicParams::Kind;

template <typename T>
T Combine(Kind kind, T acc, T x) {
  switch (kind) {
    case Kind::kSum:
    case Kind::kMean:
      return static_cast<T>(acc + x);
    case Kind::kMin:
      return std::min(acc, x);
    case Kind::kMax:
      return std::max(acc, x);
  }
  return acc;
}

// y = X1 (op) X2 (op) ... over y's broadcast shape, without Mean's final scaling.
template <typename T>
void Accumulate(Kind kind, std::span<const Tensor> inputs, Tensor& y) {
  T* yp = y.data<T>();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const T* xp = inputs[i].data<T>();
    ForEachBroadcast(y.shape(), y.shape(), inputs[i].shape(), [&](int64_t flat, int64_t, int64_t ix) {
      yp[flat] = i == 0 ? xp[ix] : Combine<T>(kind, yp[flat], xp[ix]);
    });
  }
}

Status AccumulateOfType(Kind kind, std::span<const Tensor> inputs, Tensor& y) {
  switch (y.dtype()) {
    case DataType::kFloat32:
      Accumulate<float>(kind, inputs, y);
      return OkStatus();
    case DataType::kInt64:
      Accumulate<int64_t>(kind, inputs, y);
      return OkStatus();
    case DataType::kUint8:
      Accumulate<uint8_t>(kind, inputs, y);
      return OkStatus();
    case DataType::kInt8:
      Accumulate<int8_t>(kind, inputs, y);
      return OkStatus();
    case DataType::kBool:
      break;
  }
  return InvalidArgument(std::string("arithmetic on ") + DataTypeName(y.dtype()) + " tensors is not supported");
}

BinaryParams::Kind PairwiseKind(Kind kind) {
  switch (kind) {
    case Kind::kSum:
    case Kind::kMean:
      return BinaryParams::Kind::kAdd;
    case Kind::kMin:
      return BinaryParams::Kind::kMin;
    case Kind::kMax:
      return BinaryParams::Kind::kMax;
  }
  return BinaryParams::Kind::kAdd;
}

// Index of the input each output element takes its value from, for Min and Max (the first one on ties).
std::vector<size_t> Winners(Kind kind, std::span<const Tensor> inputs, const Shape& out) {
  const auto n = static_cast<size_t>(NumElements(out));
  std::vector<size_t> winner(n, 0);
  std::vector<float> best(n, 0.0f);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const float* xp = inputs[i].data<float>();
    ForEachBroadcast(out, out, inputs[i].shape(), [&](int64_t flat, int64_t, int64_t ix) {
      const float v = xp[ix];
      const bool better = kind == Kind::kMin ? v < best[flat] : v > best[flat];
      if (i == 0 || better) {
        best[flat] = v;
        winner[flat] = i;
      }
    });
  }
  return winner;
}

}  // namespace

std::string_view VariadicName(VariadicParams::Kind kind) {
  switch (kind) {
    case Kind::kSum:
      return "Sum";
    case Kind::kMean:
      return "Mean";
    case Kind::kMin:
      return "Min";
    case Kind::kMax:
      return "Max";
  }
  return "Variadic";
}

StatusOr<std::unique_ptr<Variadic>> Variadic::Create(const VariadicParams& params) {
  return std::unique_ptr<Variadic>(new Variadic(params));
}

StatusOr<std::vector<Tensor>> Variadic::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty()) return InvalidArgument(std::string(type()) + " needs at least one input");
  Shape out;
  for (const Tensor& x : inputs) {
    if (!x.has_data()) return InvalidArgument(std::string(type()) + " inputs must all be present");
    if (x.dtype() != inputs[0].dtype()) return InvalidArgument(std::string(type()) + " inputs must share a dtype");
    FOVEA_ASSIGN_OR_RETURN(out, BroadcastShapes(out, x.shape()));
  }
  if (params_.kind == Kind::kMean && inputs[0].dtype() != DataType::kFloat32) {
    return InvalidArgument("Mean needs float32 inputs");
  }
  Tensor y(inputs[0].dtype(), out);
  FOVEA_RETURN_IF_ERROR(AccumulateOfType(params_.kind, inputs, y));
  if (params_.kind == Kind::kMean) {
    const float scale = 1.0f / static_cast<float>(inputs.size());
    for (float& v : y.floats()) v *= scale;
  }
  return std::vector<Tensor>{y};
}

PlanValue Variadic::EmitSum(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  const float scale = params_.kind == Kind::kMean ? 1.0f / static_cast<float>(inputs.size()) : 1.0f;
  std::vector<dnnl::memory::desc> descs;
  // Inputs in mixed layouts or element types (a bf16 convolution's output) are summed as float32.
  for (const auto& v : inputs) {
    descs.push_back(v.is_constant() ? PlainDesc(v.shape) : WithDataType(v.desc, dnnl::memory::data_type::f32));
  }
  const std::vector<float> scales(inputs.size(), scale);
  // Without a dst desc, oneDNN picks one matching the inputs' layouts, so blocked channels stay blocked.
  const auto pd = dnnl::sum::primitive_desc(scales, descs, builder.engine(), builder.DefaultAttr());
  std::vector<PlanArg> args;
  for (size_t i = 0; i < inputs.size(); ++i) {
    args.push_back(builder.Arg(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), inputs[i], descs[i]));
  }
  PlanValue y = builder.NewValue(inputs[0].shape, pd.dst_desc());
  args.push_back({DNNL_ARG_DST, y.id, {}});
  builder.AddStep(dnnl::sum(pd), std::move(args), pd.scratchpad_desc());
  return y;
}

StatusOr<PlanValue> Variadic::EmitChain(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  FOVEA_ASSIGN_OR_RETURN(auto pairwise, Binary::Create({PairwiseKind(params_.kind)}));
  PlanValue y = inputs[0];
  for (size_t i = 1; i < inputs.size(); ++i) {
    const PlanValue operands[] = {y, inputs[i]};
    FOVEA_ASSIGN_OR_RETURN(auto step, pairwise->Emit(builder, operands));
    y = step[0];
  }
  if (params_.kind != Kind::kMean) return y;
  // Mean = sum · 1/N, as a constant scalar Mul (oneDNN broadcasts it).
  FOVEA_ASSIGN_OR_RETURN(auto mul, Binary::Create({BinaryParams::Kind::kMul}));
  const float scale = 1.0f / static_cast<float>(inputs.size());
  const PlanValue operands[] = {y, PlanValue::Constant(Tensor::FromFloats({}, std::span<const float>(&scale, 1)))};
  FOVEA_ASSIGN_OR_RETURN(auto scaled, mul->Emit(builder, operands));
  return scaled[0];
}

StatusOr<std::vector<PlanValue>> Variadic::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty()) return InvalidArgument(std::string(type()) + " needs at least one input");
  Shape out;
  for (const auto& v : inputs) {
    if (!v.present()) return InvalidArgument(std::string(type()) + " inputs must all be present");
    if (v.dtype != DataType::kFloat32) {
      return Unimplemented(std::string(type()) + " on runtime values needs float32 inputs");
    }
    FOVEA_ASSIGN_OR_RETURN(out, BroadcastShapes(out, v.shape));
  }
  if (inputs.size() == 1) return std::vector<PlanValue>{inputs[0]};
  const bool same_shapes =
      std::all_of(inputs.begin(), inputs.end(), [&](const PlanValue& v) { return v.shape == out; });
  const bool summing = params_.kind == Kind::kSum || params_.kind == Kind::kMean;
  // oneDNN memories have rank ≥ 1; scalars go through the binary chain, which pads them.
  if (summing && same_shapes && !out.empty()) return std::vector<PlanValue>{EmitSum(builder, inputs)};
  FOVEA_ASSIGN_OR_RETURN(PlanValue y, EmitChain(builder, inputs));
  return std::vector<PlanValue>{y};
}

StatusOr<std::vector<Tensor>> Variadic::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                 std::span<const Tensor> output_grads,
                                                 std::span<const bool> /*needed*/) const {
  if (inputs.empty() || output_grads.empty()) return InvalidArgument(std::string(type()) + " backward needs X and dY");
  Shape out;
  for (const Tensor& x : inputs) {
    if (!x.has_data() || x.dtype() != DataType::kFloat32) {
      return InvalidArgument(std::string(type()) + " backward needs float32 inputs");
    }
    FOVEA_ASSIGN_OR_RETURN(out, BroadcastShapes(out, x.shape()));
  }
  const Tensor& dy = output_grads[0];
  if (dy.shape() != out) return InvalidArgument("dY is " + ShapeToString(dy.shape()) + ", not " + ShapeToString(out));
  std::vector<Tensor> grads;
  if (params_.kind == Kind::kSum || params_.kind == Kind::kMean) {
    const float scale = params_.kind == Kind::kMean ? 1.0f / static_cast<float>(inputs.size()) : 1.0f;
    for (const Tensor& x : inputs) {
      grads.push_back(SumToShape(dy, x.shape()));
      for (float& v : grads.back().floats()) v *= scale;
    }
    return grads;
  }
  const std::vector<size_t> winner = Winners(params_.kind, inputs, out);
  const float* g = dy.data<float>();
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor dx(DataType::kFloat32, inputs[i].shape());
    float* dxp = dx.data<float>();
    ForEachBroadcast(out, out, inputs[i].shape(), [&](int64_t flat, int64_t, int64_t ix) {
      if (winner[flat] == i) dxp[ix] += g[flat];
    });
    grads.push_back(dx);
  }
  return grads;
}

}  // namespace fovea::engine::ops
