#include "engine/ops/expand.h"

#include <string>

#include "engine/ops/binary.h"
#include "engine/ops/strided_view.h"

namespace fovea::engine::ops {
namespace {

// The view broadcasting a plain tensor of `shape` to the ONNX Expand of it with `requested`.
StatusOr<StridedView> ExpandView(const Shape& shape, const Tensor& requested) {
  if (requested.dtype() != DataType::kInt64 || requested.rank() != 1) {
    return InvalidArgument("Expand's shape must be a 1-D int64 tensor");
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out,
                         BroadcastShapes(shape, Shape(requested.int64s().begin(), requested.int64s().end())));
  const size_t leading = out.size() - shape.size();
  const auto plain = PlainStrides(shape);
  StridedView view{out, std::vector<int64_t>(out.size(), 0), 0};
  for (size_t d = 0; d < shape.size(); ++d) {
    // A size-1 input axis repeats its one element along the output axis.
    view.strides[leading + d] = shape[d] == 1 ? 0 : plain[d];
  }
  return view;
}

}  // namespace

StatusOr<std::unique_ptr<Expand>> Expand::Create() { return std::unique_ptr<Expand>(new Expand()); }

StatusOr<std::vector<Tensor>> Expand::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("Expand needs data and shape");
  }
  FOVEA_ASSIGN_OR_RETURN(StridedView view, ExpandView(inputs[0].shape(), inputs[1]));
  return std::vector<Tensor>{GatherView(inputs[0], view)};
}

StatusOr<std::vector<PlanValue>> Expand::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[0].present() || !inputs[1].present()) {
    return InvalidArgument("Expand needs data and shape");
  }
  if (!inputs[1].is_constant()) return Unimplemented("Expand's shape must be known when the model loads");
  FOVEA_ASSIGN_OR_RETURN(StridedView view, ExpandView(inputs[0].shape, *inputs[1].constant));
  return std::vector<PlanValue>{EmitView(builder, inputs[0], view)};
}

StatusOr<std::vector<Tensor>> Expand::Backward(std::span<const Tensor> inputs, std::span<const Tensor>,
                                               std::span<const Tensor> output_grads,
                                               std::span<const bool> /*needed*/) const {
  if (inputs.size() < 2 || output_grads.empty()) return InvalidArgument("Expand backward needs data and a gradient");
  FOVEA_ASSIGN_OR_RETURN(StridedView view, ExpandView(inputs[0].shape(), inputs[1]));
  return std::vector<Tensor>{ScatterAddView(output_grads[0], inputs[0].shape(), view), Tensor()};
}

}  // namespace fovea::engine::ops
