#include "engine/ops/reshape.h"

#include <string>

namespace fovea::engine::ops {
namespace {

// The output shape for `requested` (ONNX semantics: 0 copies the input dimension unless allow_zero, one -1 is
// inferred from the element count).
StatusOr<Shape> ResolveShape(const Shape& input, std::span<const int64_t> requested, bool allow_zero) {
  Shape out(requested.begin(), requested.end());
  int inferred = -1;
  int64_t known = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == 0 && !allow_zero) {
      if (i >= input.size()) {
        return InvalidArgument("shape entry " + std::to_string(i) + " is 0 (copy) but the input " +
                               ShapeToString(input) + " has no such dimension");
      }
      out[i] = input[i];
    }
    if (out[i] == -1) {
      if (inferred >= 0)
        return InvalidArgument("shape " + ShapeToString(Shape(requested.begin(), requested.end())) +
                               " has more than one -1");
      inferred = static_cast<int>(i);
      continue;
    }
    if (out[i] < 0) return InvalidArgument("shape entry " + std::to_string(out[i]) + " is negative");
    known *= out[i];
  }
  const int64_t total = NumElements(input);
  if (inferred >= 0) {
    if (known == 0 || total % known != 0) {
      return InvalidArgument("cannot infer the -1 in " + ShapeToString(Shape(requested.begin(), requested.end())) +
                             " for input " + ShapeToString(input));
    }
    out[static_cast<size_t>(inferred)] = total / known;
  }
  if (NumElements(out) != total) {
    return InvalidArgument("cannot reshape " + ShapeToString(input) + " to " + ShapeToString(out));
  }
  return out;
}

Status CheckShapeInput(const Tensor& shape) {
  if (shape.dtype() != DataType::kInt64 || shape.rank() != 1) {
    return InvalidArgument("the shape input must be a 1-D int64 tensor, got " +
                           std::string(DataTypeName(shape.dtype())) + " " + ShapeToString(shape.shape()));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<Reshape>> Reshape::Create(const ReshapeParams& params) {
  return std::unique_ptr<Reshape>(new Reshape(params));
}

StatusOr<std::vector<Tensor>> Reshape::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() < 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument("Reshape needs data and shape");
  }
  FOVEA_RETURN_IF_ERROR(CheckShapeInput(inputs[1]));
  FOVEA_ASSIGN_OR_RETURN(Shape shape, ResolveShape(inputs[0].shape(), inputs[1].int64s(), params_.allow_zero));
  FOVEA_ASSIGN_OR_RETURN(Tensor y, inputs[0].Clone().Reshaped(shape));
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Reshape::Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const {
  if (inputs.size() < 2 || !inputs[0].present() || !inputs[1].present()) {
    return InvalidArgument("Reshape needs data and shape");
  }
  if (!inputs[1].is_constant()) {
    return Unimplemented(
        "Reshape's shape must be known when the model loads (a constant or shape arithmetic on "
        "input shapes); a shape computed from tensor values is not supported");
  }
  FOVEA_RETURN_IF_ERROR(CheckShapeInput(*inputs[1].constant));
  FOVEA_ASSIGN_OR_RETURN(Shape shape, ResolveShape(inputs[0].shape, inputs[1].constant->int64s(), params_.allow_zero));
  return std::vector<PlanValue>{builder.Alias(builder.Plain(inputs[0]), shape)};
}

}  // namespace fovea::engine::ops
