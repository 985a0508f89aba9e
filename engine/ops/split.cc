#include "engine/ops/split.h"

#include <numeric>
#include <string>

#include "engine/ops/strided_view.h"

namespace fovea::engine::ops {
namespace {

constexpr size_t kSplitInput = 1;

// One view per output of a plain tensor of `shape`, given the optional split input (a Tensor without data if absent).
StatusOr<std::vector<StridedView>> PartViews(const SplitParams& params, const Shape& shape, const Tensor& split_input) {
  const auto rank = static_cast<int64_t>(shape.size());
  int64_t axis = params.axis;
  if (axis < -rank || axis >= rank) return InvalidArgument("Split axis " + std::to_string(axis) + " is out of range");
  if (axis < 0) axis += rank;
  const int64_t dim = shape[static_cast<size_t>(axis)];
  std::vector<int64_t> lengths = params.split;
  if (lengths.empty() && split_input.has_data()) {
    if (split_input.dtype() != DataType::kInt64 || split_input.rank() != 1) {
      return InvalidArgument("Split's split input must be a 1-D int64 tensor");
    }
    lengths.assign(split_input.int64s().begin(), split_input.int64s().end());
  }
  if (lengths.empty()) {
    if (dim % params.num_outputs != 0) {
      return InvalidArgument("cannot split axis " + std::to_string(axis) + " of " + ShapeToString(shape) + " into " +
                             std::to_string(params.num_outputs) + " equal parts");
    }
    lengths.assign(static_cast<size_t>(params.num_outputs), dim / params.num_outputs);
  }
  if (static_cast<int64_t>(lengths.size()) != params.num_outputs ||
      std::accumulate(lengths.begin(), lengths.end(), int64_t{0}) != dim) {
    return InvalidArgument("Split lengths " + ShapeToString(lengths) + " do not cut axis " + std::to_string(axis) +
                           " of " + ShapeToString(shape) + " into " + std::to_string(params.num_outputs) + " parts");
  }
  std::vector<StridedView> views;
  int64_t begin = 0;
  for (int64_t length : lengths) {
    if (length < 0) return InvalidArgument("Split length " + std::to_string(length) + " is negative");
    StridedView view{shape, PlainStrides(shape), 0};
    view.offset = begin * view.strides[static_cast<size_t>(axis)];
    view.shape[static_cast<size_t>(axis)] = length;
    views.push_back(view);
    begin += length;
  }
  return views;
}

const Tensor& SplitInput(std::span<const Tensor> inputs) {
  static const Tensor kAbsent;
  return inputs.size() > kSplitInput ? inputs[kSplitInput] : kAbsent;
}

}  // namespace

StatusOr<std::unique_ptr<Split>> Split::Create(const SplitParams& params) {
  if (params.num_outputs < 1) return InvalidArgument("Split needs at least one output");
  if (!params.split.empty() && static_cast<int64_t>(params.split.size()) != params.num_outputs) {
    return InvalidArgument("Split's split attribute has " + std::to_string(params.split.size()) + " lengths for " +
                           std::to_string(params.num_outputs) + " outputs");
  }
  return std::unique_ptr<Split>(new Split(params));
}

StatusOr<std::vector<Tensor>> Split::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument("Split needs data");
  FOVEA_ASSIGN_OR_RETURN(auto views, PartViews(params_, inputs[0].shape(), SplitInput(inputs)));
  std::vector<Tensor> parts;
  parts.reserve(views.size());
  for (const auto& view : views) parts.push_back(GatherView(inputs[0], view));
  return parts;
}

StatusOr<std::vector<PlanValue>> Split::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument("Split needs data");
  Tensor split;
  if (inputs.size() > kSplitInput && inputs[kSplitInput].present()) {
    if (!inputs[kSplitInput].is_constant()) {
      return Unimplemented("Split's split lengths must be known when the model loads");
    }
    split = *inputs[kSplitInput].constant;
  }
  FOVEA_ASSIGN_OR_RETURN(auto views, PartViews(params_, inputs[0].shape, split));
  // One plain copy of the input serves every part's view.
  const PlanValue plain = builder.Plain(inputs[0]);
  std::vector<PlanValue> parts;
  parts.reserve(views.size());
  for (const auto& view : views) parts.push_back(EmitView(builder, plain, view));
  return parts;
}

StatusOr<std::vector<Tensor>> Split::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                              std::span<const Tensor> output_grads,
                                              std::span<const bool> /*needed*/) const {
  if (inputs.empty()) return InvalidArgument("Split backward needs data");
  FOVEA_ASSIGN_OR_RETURN(auto views, PartViews(params_, inputs[0].shape(), SplitInput(inputs)));
  if (output_grads.size() != views.size()) return InvalidArgument("Split backward needs one gradient per output");
  Tensor grad(DataType::kFloat32, inputs[0].shape());
  for (size_t i = 0; i < views.size(); ++i) {
    const Tensor part = ScatterAddView(output_grads[i], inputs[0].shape(), views[i]);
    for (int64_t e = 0; e < grad.num_elements(); ++e) grad.data<float>()[e] += part.data<float>()[e];
  }
  std::vector<Tensor> grads(inputs.size());
  grads[0] = grad;
  return grads;
}

}  // namespace fovea::engine::ops
