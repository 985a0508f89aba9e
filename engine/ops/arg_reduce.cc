#include "engine/ops/arg_reduce.h"

#include <string>

#include "engine/ops/reduce_axes.h"

namespace fovea::engine::ops {
namespace {

// The value at flat index `i` as a double, for either supported dtype.
double At(const Tensor& x, int64_t i) {
  return x.dtype() == DataType::kInt64 ? static_cast<double>(x.data<int64_t>()[i]) : x.data<float>()[i];
}

// The normalized axis, or an error naming it.
StatusOr<int64_t> Axis(const ArgReduceParams& params, const Shape& x) {
  const std::vector<int64_t> axis_list = {params.axis};
  FOVEA_ASSIGN_OR_RETURN(auto axes, NormalizeAxes(axis_list, static_cast<int64_t>(x.size())));
  if (axes.empty() || x[static_cast<size_t>(axes[0])] == 0) {
    return InvalidArgument(std::string(params.is_max ? "ArgMax" : "ArgMin") + " needs a non-empty axis");
  }
  return axes[0];
}

StatusOr<Shape> OutputShape(const ArgReduceParams& params, const Shape& x) {
  FOVEA_ASSIGN_OR_RETURN(int64_t axis, Axis(params, x));
  const std::vector<int64_t> axes = {axis};
  return params.keepdims ? KeepDimsShape(x, axes) : DropAxes(x, axes);
}

// The one arg-reduction loop, used by Reference and by the plan's host step; `y` is preallocated.
Status ArgLoop(const ArgReduceParams& params, const Tensor& x, Tensor& y) {
  FOVEA_ASSIGN_OR_RETURN(int64_t axis, Axis(params, x.shape()));
  const int64_t extent = x.dim(axis);
  const int64_t inner = NumElements(Shape(x.shape().begin() + axis + 1, x.shape().end()));
  const int64_t outer = x.num_elements() / (extent * inner);
  auto* yp = y.data<int64_t>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      double best_value = At(x, o * extent * inner + i);
      for (int64_t k = 1; k < extent; ++k) {
        const double v = At(x, (o * extent + k) * inner + i);
        const bool better = params.is_max ? v > best_value : v < best_value;
        if (better || (params.select_last_index && v == best_value)) {
          best = k;
          best_value = v;
        }
      }
      yp[o * inner + i] = best;
    }
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<ArgReduce>> ArgReduce::Create(const ArgReduceParams& params) {
  return std::unique_ptr<ArgReduce>(new ArgReduce(params));
}

std::string_view ArgReduce::type() const { return params_.is_max ? "ArgMax" : "ArgMin"; }

StatusOr<std::vector<Tensor>> ArgReduce::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument(std::string(type()) + " needs data");
  const Tensor& x = inputs[0];
  if (x.dtype() != DataType::kFloat32 && x.dtype() != DataType::kInt64) {
    return InvalidArgument(std::string(type()) + " data must be float32 or int64");
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out_shape, OutputShape(params_, x.shape()));
  Tensor y(DataType::kInt64, out_shape);
  FOVEA_RETURN_IF_ERROR(ArgLoop(params_, x, y));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> ArgReduce::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument(std::string(type()) + " needs data");
  FOVEA_ASSIGN_OR_RETURN(Shape out_shape, OutputShape(params_, inputs[0].shape));
  // oneDNN has no arg-reduction (and no int64 type): the reference loop runs as a host step writing int64 indices,
  // which the plan lets only graph outputs read (engine/plan_builder.h, ValueDesc).
  HostKernel kernel = [params = params_](std::span<const Tensor> in, std::span<Tensor> out) {
    return ArgLoop(params, in[0], out[0]);
  };
  return builder.AddHostStep(std::move(kernel), inputs.first(1), {out_shape}, {DataType::kInt64});
}

StatusOr<std::vector<Tensor>> ArgReduce::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                  std::span<const Tensor>, std::span<const bool> /*needed*/) const {
  return std::vector<Tensor>(inputs.size());
}

}  // namespace fovea::engine::ops
