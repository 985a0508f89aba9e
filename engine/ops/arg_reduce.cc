#include "engine/ops/arg_reduce.h"

#include <string>

#include "engine/ops/reduce_axes.h"

namespace fovea::engine::ops {
namespace {

// The value at flat index `i` as a double, for either supported dtype.
double At(const Tensor& x, int64_t i) {
  return x.dtype() == DataType::kInt64 ? static_cast<double>(x.data<int64_t>()[i]) : x.data<float>()[i];
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
  const std::vector<int64_t> axis_list = {params_.axis};
  FOVEA_ASSIGN_OR_RETURN(auto axes, NormalizeAxes(axis_list, x.rank()));
  if (axes.empty() || x.dim(axes[0]) == 0) return InvalidArgument(std::string(type()) + " needs a non-empty axis");
  const int64_t axis = axes[0];
  const int64_t extent = x.dim(axis);
  const int64_t inner = NumElements(Shape(x.shape().begin() + axis + 1, x.shape().end()));
  const int64_t outer = x.num_elements() / (extent * inner);
  Tensor y(DataType::kInt64, KeepDimsShape(x.shape(), axes));
  auto* yp = y.data<int64_t>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      int64_t best = 0;
      double best_value = At(x, o * extent * inner + i);
      for (int64_t k = 1; k < extent; ++k) {
        const double v = At(x, (o * extent + k) * inner + i);
        const bool better = params_.is_max ? v > best_value : v < best_value;
        if (better || (params_.select_last_index && v == best_value)) {
          best = k;
          best_value = v;
        }
      }
      yp[o * inner + i] = best;
    }
  }
  if (!params_.keepdims) y = y.Reshaped(DropAxes(x.shape(), axes)).value();
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> ArgReduce::Emit(PlanBuilder&, std::span<const PlanValue>) const {
  return Unimplemented(std::string(type()) +
                       " on a runtime input: its int64 indices cannot be a runtime value of a plan; it runs only on "
                       "values known at load time");
}

StatusOr<std::vector<Tensor>> ArgReduce::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                                  std::span<const Tensor>) const {
  return std::vector<Tensor>(inputs.size());
}

}  // namespace fovea::engine::ops
