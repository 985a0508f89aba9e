#include "engine/ops/compare.h"

#include <string>

#include "engine/ops/shape_arithmetic.h"

namespace fovea::engine::ops {
namespace {

using Kind = CompareParams::Kind;

template <typename T>
bool Holds(Kind kind, T a, T b) {
  switch (kind) {
    case Kind::kEqual:
      return a == b;
    case Kind::kLess:
      return a < b;
    case Kind::kGreater:
      return a > b;
    case Kind::kLessOrEqual:
      return a <= b;
    case Kind::kGreaterOrEqual:
      return a >= b;
  }
  return false;
}

}  // namespace

StatusOr<std::unique_ptr<Compare>> Compare::Create(const CompareParams& params) {
  return std::unique_ptr<Compare>(new Compare(params));
}

std::string_view Compare::type() const {
  switch (params_.kind) {
    case Kind::kEqual:
      return "Equal";
    case Kind::kLess:
      return "Less";
    case Kind::kGreater:
      return "Greater";
    case Kind::kLessOrEqual:
      return "LessOrEqual";
    case Kind::kGreaterOrEqual:
      return "GreaterOrEqual";
  }
  return "Compare";
}

StatusOr<std::vector<Tensor>> Compare::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 2 || !inputs[0].has_data() || !inputs[1].has_data()) {
    return InvalidArgument(std::string(type()) + " needs A and B");
  }
  const Tensor& a = inputs[0];
  const Tensor& b = inputs[1];
  FOVEA_ASSIGN_OR_RETURN(Shape out, BroadcastAll({a.shape(), b.shape()}));
  const auto indices = BroadcastIndices(out, {a.shape(), b.shape()});
  Tensor y(DataType::kBool, out);
  // int64 compares exactly as int64 (shape values near INT64_MAX would collide as doubles).
  const bool both_int64 = a.dtype() == DataType::kInt64 && b.dtype() == DataType::kInt64;
  for (int64_t e = 0; e < y.num_elements(); ++e) {
    const int64_t ia = indices[0][static_cast<size_t>(e)], ib = indices[1][static_cast<size_t>(e)];
    const bool holds = both_int64 ? Holds(params_.kind, a.data<int64_t>()[ia], b.data<int64_t>()[ib])
                                  : Holds(params_.kind, ElementAsDouble(a, ia), ElementAsDouble(b, ib));
    y.data<bool>()[e] = holds;
  }
  return std::vector<Tensor>{y};
}

StatusOr<std::vector<PlanValue>> Compare::Emit(PlanBuilder&, std::span<const PlanValue>) const {
  return OnlyOnConstants(type());
}

}  // namespace fovea::engine::ops
