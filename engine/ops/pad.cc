#include "engine/ops/pad.h"

#include <algorithm>

namespace fovea::engine::ops {
namespace {

Shape PaddedShape(const Shape& shape, const std::vector<int64_t>& pads) {
  Shape out = shape;
  const size_t rank = shape.size();
  for (size_t i = 0; i < rank; ++i) out[i] += pads[i] + pads[i + rank];
  return out;
}

const Tensor* Present(std::span<const Tensor> inputs, size_t i) {
  return i < inputs.size() && inputs[i].has_data() ? &inputs[i] : nullptr;
}

}  // namespace

StatusOr<std::unique_ptr<Pad>> Pad::Create(const PadParams& params) { return std::unique_ptr<Pad>(new Pad(params)); }

StatusOr<PadParams> Pad::Resolve(int64_t rank, const Tensor* pads, const Tensor* value) const {
  PadParams p = params_;
  if (pads != nullptr) {
    if (pads->dtype() != DataType::kInt64) return InvalidArgument("pads must be int64");
    p.pads.assign(pads->int64s().begin(), pads->int64s().end());
  }
  if (value != nullptr) {
    if (value->dtype() != DataType::kFloat32 || value->num_elements() != 1) {
      return InvalidArgument("constant_value must be a float32 scalar");
    }
    p.value = value->data<float>()[0];
  }
  if (static_cast<int64_t>(p.pads.size()) != 2 * rank) {
    return InvalidArgument("pads has " + std::to_string(p.pads.size()) + " entries; a rank-" + std::to_string(rank) +
                           " input needs " + std::to_string(2 * rank));
  }
  if (std::any_of(p.pads.begin(), p.pads.end(), [](int64_t v) { return v < 0; })) {
    return Unimplemented("negative pads (cropping) are not supported");
  }
  return p;
}

StatusOr<std::vector<Tensor>> Pad::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || inputs[0].dtype() != DataType::kFloat32) return InvalidArgument("data must be float32");
  const Tensor& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(PadParams p, Resolve(x.rank(), Present(inputs, 1), Present(inputs, 2)));
  const Shape out_shape = PaddedShape(x.shape(), p.pads);
  Tensor y(DataType::kFloat32, out_shape);
  std::fill(y.floats().begin(), y.floats().end(), p.value);
  const auto rank = static_cast<size_t>(x.rank());
  std::vector<int64_t> index(rank, 0);
  for (int64_t flat = 0; flat < x.num_elements(); ++flat) {
    int64_t rest = flat, out_flat = 0;
    for (size_t d = rank; d-- > 0;) {
      index[d] = rest % x.shape()[d];
      rest /= x.shape()[d];
    }
    for (size_t d = 0; d < rank; ++d) out_flat = out_flat * out_shape[d] + index[d] + p.pads[d];
    y.data<float>()[out_flat] = x.data<float>()[flat];
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Pad::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  std::vector<Tensor> constants(3);
  for (size_t i = 1; i < inputs.size() && i < 3; ++i) {
    if (!inputs[i].present()) continue;
    if (!inputs[i].is_constant()) return Unimplemented("pads and constant_value must be known at load time");
    constants[i] = *inputs[i].constant;
  }
  const PlanValue& x = inputs[0];
  FOVEA_ASSIGN_OR_RETURN(PadParams p,
                         Resolve(static_cast<int64_t>(x.shape.size()), Present(constants, 1), Present(constants, 2)));
  if (std::all_of(p.pads.begin(), p.pads.end(), [](int64_t v) { return v == 0; })) return std::vector<PlanValue>{x};
  const Shape out_shape = PaddedShape(x.shape, p.pads);
  const dnnl::memory::desc out_desc = PlainDesc(out_shape);
  // Fill from a plan-owned constant (a primitive computing the fill would read uninitialized, possibly NaN, bytes),
  // then copy the input into the interior through a sub-memory view of the output.
  Tensor fill(DataType::kFloat32, out_shape);
  std::fill(fill.floats().begin(), fill.floats().end(), p.value);
  PlanValue y = builder.Reordered(PlanValue::Constant(fill), out_desc);
  dnnl::memory::dims offsets(p.pads.begin(), p.pads.begin() + static_cast<std::ptrdiff_t>(x.shape.size()));
  const PlanValue interior = builder.View(y, x.shape, out_desc.submemory_desc(ToDims(x.shape), offsets));
  const PlanValue plain_x = builder.Plain(x);
  auto pd = dnnl::reorder::primitive_desc(builder.engine(), plain_x.desc, builder.engine(), interior.desc,
                                          builder.DefaultAttr());
  builder.AddStep(dnnl::reorder(pd), {{DNNL_ARG_FROM, plain_x.id, {}}, {DNNL_ARG_TO, interior.id, {}}},
                  pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<SpatialGeometry> Pad::Geometry(std::span<const Shape> input_shapes) const {
  return GeometryWith(input_shapes, {});
}

StatusOr<SpatialGeometry> Pad::GeometryWith(std::span<const Shape> /*input_shapes*/,
                                            std::span<const Tensor> parameters) const {
  constexpr int64_t kImageRank = 4;
  constexpr size_t kHeightAxis = 2, kWidthAxis = 3;
  // parameters[0] is input 1 (pads), parameters[1] input 2 (constant_value).
  std::vector<Tensor> constants(1);
  constants.insert(constants.end(), parameters.begin(), parameters.end());
  const Tensor* pads = Present(constants, 1);
  if (params_.pads.empty() && pads == nullptr) {
    return FailedPrecondition("Pad with pads computed at run time does not describe how it maps pixels");
  }
  auto resolved = Resolve(kImageRank, pads, nullptr);
  if (!resolved.ok()) return FailedPrecondition("Pad: " + resolved.status().message());
  SpatialGeometry geometry;
  geometry.offset = {resolved->pads[kHeightAxis], resolved->pads[kWidthAxis]};
  return geometry;
}

}  // namespace fovea::engine::ops
