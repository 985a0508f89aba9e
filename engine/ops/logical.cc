#include "engine/ops/logical.h"

#include <string>

#include "engine/ops/shape_arithmetic.h"

namespace fovea::engine::ops {
namespace {

using Kind = LogicalParams::Kind;

bool Apply(Kind kind, bool a, bool b) {
  switch (kind) {
    case Kind::kNot:
      return !a;
    case Kind::kAnd:
      return a && b;
    case Kind::kOr:
      return a || b;
    case Kind::kXor:
      return a != b;
  }
  return false;
}

}  // namespace

StatusOr<std::unique_ptr<Logical>> Logical::Create(const LogicalParams& params) {
  return std::unique_ptr<Logical>(new Logical(params));
}

std::string_view Logical::type() const {
  switch (params_.kind) {
    case Kind::kNot:
      return "Not";
    case Kind::kAnd:
      return "And";
    case Kind::kOr:
      return "Or";
    case Kind::kXor:
      return "Xor";
  }
  return "Logical";
}

StatusOr<std::vector<Tensor>> Logical::Reference(std::span<const Tensor> inputs) const {
  const size_t arity = params_.kind == Kind::kNot ? 1 : 2;
  if (inputs.size() != arity)
    return InvalidArgument(std::string(type()) + " needs " + std::to_string(arity) + " inputs");
  std::vector<Shape> shapes;
  for (const auto& t : inputs) {
    if (!t.has_data() || t.dtype() != DataType::kBool)
      return InvalidArgument(std::string(type()) + " needs bool inputs");
    shapes.push_back(t.shape());
  }
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastAll(shapes));
  const auto indices = BroadcastIndices(out, shapes);
  Tensor y(DataType::kBool, out);
  for (int64_t e = 0; e < y.num_elements(); ++e) {
    const bool a = inputs[0].data<bool>()[indices[0][static_cast<size_t>(e)]];
    const bool b = arity > 1 && inputs[1].data<bool>()[indices[1][static_cast<size_t>(e)]];
    y.data<bool>()[e] = Apply(params_.kind, a, b);
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Logical::Emit(PlanBuilder&, std::span<const PlanValue>) const {
  return OnlyOnConstants(type());
}

}  // namespace fovea::engine::ops
