#include "engine/ops/squeeze.h"

#include <algorithm>
#include <string>

namespace fovea::engine::ops {
namespace {

using Kind = SqueezeParams::Kind;

// `axes` with negative entries counted from the end of a rank-`rank` shape; errors on out-of-range or repeated axes.
StatusOr<std::vector<int64_t>> NormalizeAxes(std::vector<int64_t> axes, int64_t rank) {
  for (int64_t& axis : axes) {
    if (axis < -rank || axis >= rank) {
      return InvalidArgument("axis " + std::to_string(axis) + " is outside [-" + std::to_string(rank) + ", " +
                             std::to_string(rank - 1) + "]");
    }
    if (axis < 0) axis += rank;
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) return InvalidArgument("axes repeat an axis");
  return axes;
}

StatusOr<Shape> SqueezedShape(const Shape& x, const std::vector<int64_t>& requested, bool axes_given) {
  Shape out;
  if (!axes_given) {
    // No axes: every size-1 dimension goes.
    std::copy_if(x.begin(), x.end(), std::back_inserter(out), [](int64_t d) { return d != 1; });
    return out;
  }
  FOVEA_ASSIGN_OR_RETURN(auto axes, NormalizeAxes(requested, static_cast<int64_t>(x.size())));
  for (size_t i = 0; i < x.size(); ++i) {
    const bool drop = std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(i));
    if (drop && x[i] != 1) {
      return InvalidArgument("cannot squeeze axis " + std::to_string(i) + " of " + ShapeToString(x) +
                             ": its size is not 1");
    }
    if (!drop) out.push_back(x[i]);
  }
  return out;
}

StatusOr<Shape> UnsqueezedShape(const Shape& x, const std::vector<int64_t>& requested) {
  const auto out_rank = static_cast<int64_t>(x.size() + requested.size());
  FOVEA_ASSIGN_OR_RETURN(auto axes, NormalizeAxes(requested, out_rank));
  Shape out;
  auto next = x.begin();
  for (int64_t i = 0; i < out_rank; ++i) {
    out.push_back(std::binary_search(axes.begin(), axes.end(), i) ? 1 : *next++);
  }
  return out;
}

// The output shape for input `x` and the optional axes input `axes_input` (a tensor without data when absent).
StatusOr<Shape> OutputShape(const SqueezeParams& params, const Shape& x, const Tensor& axes_input) {
  std::vector<int64_t> axes = params.axes;
  bool axes_given = !axes.empty();
  if (!axes_given && axes_input.has_data()) {
    if (axes_input.dtype() != DataType::kInt64 || axes_input.rank() > 1) {
      return InvalidArgument("axes must be a 1-D int64 tensor");
    }
    axes.assign(axes_input.int64s().begin(), axes_input.int64s().end());
    axes_given = true;
  }
  if (params.kind == Kind::kSqueeze) return SqueezedShape(x, axes, axes_given);
  if (!axes_given) return InvalidArgument("Unsqueeze needs axes");
  return UnsqueezedShape(x, axes);
}

}  // namespace

StatusOr<std::unique_ptr<Squeeze>> Squeeze::Create(const SqueezeParams& params) {
  return std::unique_ptr<Squeeze>(new Squeeze(params));
}

std::string_view Squeeze::type() const { return params_.kind == Kind::kSqueeze ? "Squeeze" : "Unsqueeze"; }

StatusOr<std::vector<Tensor>> Squeeze::Reference(std::span<const Tensor> inputs) const {
  if (inputs.empty() || !inputs[0].has_data()) return InvalidArgument(std::string(type()) + " needs data");
  FOVEA_ASSIGN_OR_RETURN(Shape shape,
                         OutputShape(params_, inputs[0].shape(), inputs.size() > 1 ? inputs[1] : Tensor()));
  FOVEA_ASSIGN_OR_RETURN(Tensor y, inputs[0].Clone().Reshaped(shape));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Squeeze::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.empty() || !inputs[0].present()) return InvalidArgument(std::string(type()) + " needs data");
  Tensor axes;
  if (inputs.size() > 1 && inputs[1].present()) {
    if (!inputs[1].is_constant()) {
      return Unimplemented(std::string(type()) + "'s axes must be known when the model loads (a constant)");
    }
    axes = *inputs[1].constant;
  }
  FOVEA_ASSIGN_OR_RETURN(Shape shape, OutputShape(params_, inputs[0].shape, axes));
  return std::vector<PlanValue>{builder.Alias(builder.Plain(inputs[0]), shape)};
}

}  // namespace fovea::engine::ops
