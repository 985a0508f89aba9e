#include "engine/ops/strided_view.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace fovea::engine::ops {
namespace {

using dnnl::memory;

// Calls visit(output_flat_index, input_index) for every element of `view`, in row-major output order.
template <typename Visit>
void ForEachElement(const StridedView& view, Visit visit) {
  const int64_t count = NumElements(view.shape);
  const size_t rank = view.shape.size();
  std::vector<int64_t> index(rank, 0);
  int64_t source = view.offset;
  for (int64_t flat = 0; flat < count; ++flat) {
    visit(flat, source);
    // Odometer increment, keeping the input index in step instead of recomputing the dot product.
    for (size_t d = rank; d-- > 0;) {
      source += view.strides[d];
      if (++index[d] < view.shape[d]) break;
      source -= view.strides[d] * view.shape[d];
      index[d] = 0;
    }
  }
}

// `view` without its size-1 axes, which read nothing but the offset: fewer dimensions for oneDNN's limit of
// DNNL_MAX_NDIMS, and the same plain output bytes.
StridedView WithoutUnitAxes(const StridedView& view) {
  StridedView compact;
  compact.offset = view.offset;
  for (size_t d = 0; d < view.shape.size(); ++d) {
    if (view.shape[d] == 1) continue;
    compact.shape.push_back(view.shape[d]);
    compact.strides.push_back(view.strides[d]);
  }
  if (compact.shape.empty()) {
    compact.shape = {1};
    compact.strides = {1};
  }
  return compact;
}

bool DnnlCanDescribe(const StridedView& view) {
  return view.shape.size() <= DNNL_MAX_NDIMS &&
         std::all_of(view.strides.begin(), view.strides.end(), [](int64_t s) { return s >= 0; });
}

// For a view that crops `shape` (the plain input's strides, any offset), the per-axis start of the crop; nullopt for
// any other view.
std::optional<memory::dims> CropOffsets(const Shape& shape, const StridedView& view) {
  if (view.shape.size() != shape.size() || view.strides != PlainStrides(shape) || shape.empty()) return std::nullopt;
  memory::dims offsets;
  int64_t remaining = view.offset;
  for (size_t d = 0; d < shape.size(); ++d) {
    offsets.push_back(remaining / view.strides[d]);
    remaining %= view.strides[d];
  }
  return offsets;
}

// The oneDNN descriptor reading `view` of a plain input of `shape`: a sub-memory of the plain layout for a crop (Slice
// with unit steps, Split), otherwise explicit strides and offset (permutations, steps, broadcasts).
memory::desc SourceDesc(const Shape& shape, const StridedView& view, memory::data_type type) {
  if (const auto offsets = CropOffsets(shape, view)) {
    return PlainDesc(shape, type).submemory_desc(ToDims(view.shape), *offsets);
  }
  const StridedView compact = WithoutUnitAxes(view);
  memory::desc source(ToDims(compact.shape), type, memory::dims(compact.strides.begin(), compact.strides.end()));
  source.data.offset0 = compact.offset;
  return source;
}

PlanValue EmitHostView(PlanBuilder& builder, const PlanValue& input, const StridedView& view, const Shape& shape) {
  HostKernel kernel = [view](std::span<const Tensor> inputs, std::span<Tensor> outputs) {
    GatherViewInto(inputs[0], view, outputs[0]);
    return OkStatus();
  };
  const PlanValue inputs[] = {input};
  return builder.AddHostStep(std::move(kernel), inputs, {shape}, {input.dtype})[0];
}

}  // namespace

std::vector<int64_t> PlainStrides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

StridedView PermutedView(const Shape& shape, const std::vector<int64_t>& perm) {
  const auto plain = PlainStrides(shape);
  StridedView view;
  for (int64_t axis : perm) {
    view.shape.push_back(shape[static_cast<size_t>(axis)]);
    view.strides.push_back(plain[static_cast<size_t>(axis)]);
  }
  return view;
}

void GatherViewInto(const Tensor& input, const StridedView& view, Tensor& output) {
  const size_t element = DataTypeSize(input.dtype());
  const auto* src = static_cast<const char*>(input.raw_data());
  auto* dst = static_cast<char*>(output.raw_data());
  ForEachElement(view, [&](int64_t flat, int64_t source) {
    std::memcpy(dst + static_cast<size_t>(flat) * element, src + static_cast<size_t>(source) * element, element);
  });
}

Tensor GatherView(const Tensor& input, const StridedView& view) {
  Tensor output(input.dtype(), view.shape);
  GatherViewInto(input, view, output);
  return output;
}

Tensor ScatterAddView(const Tensor& grad, const Shape& input_shape, const StridedView& view) {
  Tensor input_grad(DataType::kFloat32, input_shape);
  const float* g = grad.data<float>();
  float* out = input_grad.data<float>();
  ForEachElement(view, [&](int64_t flat, int64_t source) { out[source] += g[flat]; });
  return input_grad;
}

PlanValue EmitView(PlanBuilder& builder, const PlanValue& input, const StridedView& view, const Shape& shape) {
  if (NumElements(shape) == 0) return PlanValue::Constant(Tensor(input.dtype, shape));
  if (input.is_constant()) return PlanValue::Constant(GatherView(*input.constant, view).Reshaped(shape).value());
  const PlanValue plain = builder.Plain(input);
  if (!DnnlCanDescribe(WithoutUnitAxes(view))) return EmitHostView(builder, plain, view, shape);
  const memory::data_type type = plain.desc.data_type();
  memory::desc source;
  try {
    source = SourceDesc(input.shape, view, type);
  } catch (const dnnl::error&) {
    // oneDNN refuses some stride patterns; the host loop reads anything.
    return EmitHostView(builder, plain, view, shape);
  }
  const memory::dims source_dims = source.dims();
  const Shape source_shape(source_dims.begin(), source_dims.end());
  const PlanValue strided = builder.View(plain, source_shape, source);
  PlanValue copy = builder.Copied(strided, PlainDesc(source_shape, type));
  copy.dtype = input.dtype;
  return builder.Alias(copy, shape);
}

}  // namespace fovea::engine::ops
