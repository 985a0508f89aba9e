#include "engine/ops/concat.h"

#include <cstring>
#include <string>

namespace fovea::engine::ops {
namespace {

// The output shape and the normalized axis; every input must match the first in all but `axis`.
StatusOr<Shape> ConcatShape(int64_t& axis, const std::vector<Shape>& shapes) {
  if (shapes.empty()) return InvalidArgument("Concat needs at least one input");
  const Shape& first = shapes[0];
  const auto rank = static_cast<int64_t>(first.size());
  if (axis < -rank || axis >= rank) {
    return InvalidArgument("Concat axis " + std::to_string(axis) + " is outside the input " + ShapeToString(first));
  }
  if (axis < 0) axis += rank;
  Shape out = first;
  out[static_cast<size_t>(axis)] = 0;
  for (const Shape& s : shapes) {
    bool matches = s.size() == first.size();
    for (size_t d = 0; matches && d < s.size(); ++d) matches = static_cast<int64_t>(d) == axis || s[d] == first[d];
    if (!matches) {
      return InvalidArgument("Concat inputs " + ShapeToString(first) + " and " + ShapeToString(s) +
                             " differ outside axis " + std::to_string(axis));
    }
    out[static_cast<size_t>(axis)] += s[static_cast<size_t>(axis)];
  }
  return out;
}

}  // namespace

StatusOr<std::unique_ptr<Concat>> Concat::Create(const ConcatParams& params) {
  return std::unique_ptr<Concat>(new Concat(params));
}

StatusOr<std::vector<Tensor>> Concat::Reference(std::span<const Tensor> inputs) const {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) {
    if (!t.has_data() && t.num_elements() != 0) return InvalidArgument("Concat inputs must all be present");
    if (t.dtype() != inputs[0].dtype()) return InvalidArgument("Concat inputs must share one dtype");
    shapes.push_back(t.shape());
  }
  int64_t axis = params_.axis;
  FOVEA_ASSIGN_OR_RETURN(Shape out, ConcatShape(axis, shapes));
  Tensor y(inputs[0].dtype(), out);
  const size_t element = DataTypeSize(y.dtype());
  const int64_t outer = NumElements(Shape(out.begin(), out.begin() + axis));
  const int64_t inner = NumElements(Shape(out.begin() + axis + 1, out.end()));
  auto* dst = static_cast<char*>(y.raw_data());
  const int64_t row = out[static_cast<size_t>(axis)] * inner;  // output elements per outer index
  int64_t offset = 0;
  for (const auto& t : inputs) {
    const int64_t chunk = t.dim(axis) * inner;
    const auto* src = static_cast<const char*>(t.raw_data());
    for (int64_t o = 0; o < outer && chunk > 0; ++o) {
      std::memcpy(dst + static_cast<size_t>(o * row + offset) * element, src + static_cast<size_t>(o * chunk) * element,
                  static_cast<size_t>(chunk) * element);
    }
    offset += chunk;
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<Tensor>> Concat::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                               std::span<const Tensor> output_grads,
                                               std::span<const bool> /*needed*/) const {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) {
    if (t.dtype() != DataType::kFloat32) return InvalidArgument("Concat backward needs float32 inputs");
    shapes.push_back(t.shape());
  }
  int64_t axis = params_.axis;
  FOVEA_ASSIGN_OR_RETURN(const Shape out, ConcatShape(axis, shapes));
  if (output_grads.empty() || output_grads[0].shape() != out) {
    return InvalidArgument("Concat backward needs dY of shape " + ShapeToString(out));
  }
  const int64_t outer = NumElements(Shape(out.begin(), out.begin() + axis));
  const int64_t inner = NumElements(Shape(out.begin() + axis + 1, out.end()));
  const int64_t row = out[static_cast<size_t>(axis)] * inner;
  const float* dy = output_grads[0].data<float>();
  std::vector<Tensor> grads;
  int64_t offset = 0;
  for (const auto& t : inputs) {
    Tensor dx(DataType::kFloat32, t.shape());
    const int64_t chunk = t.dim(axis) * inner;
    for (int64_t o = 0; o < outer && chunk > 0; ++o) {
      std::memcpy(dx.data<float>() + o * chunk, dy + o * row + offset, static_cast<size_t>(chunk) * sizeof(float));
    }
    offset += chunk;
    grads.push_back(std::move(dx));
  }
  return grads;
}

StatusOr<std::vector<PlanValue>> Concat::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  std::vector<Shape> shapes;
  std::vector<PlanValue> parts;
  for (const auto& v : inputs) {
    if (!v.present()) return InvalidArgument("Concat inputs must all be present");
    if (v.dtype != DataType::kFloat32) {
      return Unimplemented("Concat of int64 values is only supported on shapes known when the model loads");
    }
    shapes.push_back(v.shape);
    // Empty inputs contribute nothing, and oneDNN memories cannot have zero-sized dimensions.
    if (NumElements(v.shape) > 0) parts.push_back(v);
  }
  int64_t axis = params_.axis;
  FOVEA_ASSIGN_OR_RETURN(Shape out, ConcatShape(axis, shapes));
  if (parts.size() == 1) return std::vector<PlanValue>{parts[0]};
  if (parts.empty()) return InvalidArgument("Concat of only empty tensors");
  std::vector<dnnl::memory::desc> descs;
  // Parts of mixed element types (a bf16 convolution's output next to a float32 one) are concatenated as float32.
  for (const auto& v : parts) {
    descs.push_back(v.is_constant() ? PlainDesc(v.shape) : WithDataType(v.desc, dnnl::memory::data_type::f32));
  }
  // Without a dst desc, oneDNN picks one matching the inputs' layouts, so blocked channels stay blocked.
  auto pd = dnnl::concat::primitive_desc(static_cast<int>(axis), descs, builder.engine(), builder.DefaultAttr());
  std::vector<PlanArg> args;
  args.reserve(parts.size() + 1);
  for (size_t i = 0; i < parts.size(); ++i) {
    args.push_back(builder.Arg(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), parts[i], descs[i]));
  }
  PlanValue y = builder.NewValue(out, pd.dst_desc());
  args.push_back({DNNL_ARG_DST, y.id, {}});
  builder.AddStep(dnnl::concat(pd), std::move(args), pd.scratchpad_desc());
  return std::vector<PlanValue>{y};
}

StatusOr<SpatialGeometry> Concat::Geometry(std::span<const Shape> input_shapes) const {
  constexpr int64_t kImageRank = 4;
  const int64_t rank = input_shapes.empty() ? 0 : static_cast<int64_t>(input_shapes[0].size());
  if (params_.axis == 1 || (rank == kImageRank && params_.axis == 1 - kImageRank)) {
    return SpatialGeometry::Pointwise();
  }
  return FailedPrecondition("Concat along axis " + std::to_string(params_.axis) +
                            " joins pixel grids; only channel concatenation keeps them");
}

}  // namespace fovea::engine::ops
