#include "engine/ops/range.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/ops/shape_arithmetic.h"

namespace fovea::engine::ops {
namespace {

// A bound on the sequence length, so a tiny delta in a malformed model cannot ask for terabytes.
constexpr int64_t kMaxRangeElements = int64_t{1} << 28;

template <typename T>
StatusOr<Tensor> Sequence(DataType dtype, T start, T limit, T delta) {
  if (delta == T{0}) return InvalidArgument("Range delta is 0");
  const double span = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) / static_cast<double>(delta));
  const double count = std::max(span, 0.0);
  if (count > static_cast<double>(kMaxRangeElements)) return InvalidArgument("Range has too many elements");
  Tensor y(dtype, {static_cast<int64_t>(count)});
  T* out = y.data<T>();
  // start + i·delta rather than accumulating, as ONNX defines each element.
  for (int64_t i = 0; i < y.num_elements(); ++i) out[i] = static_cast<T>(start + static_cast<T>(i) * delta);
  return y;
}

}  // namespace

StatusOr<std::unique_ptr<Range>> Range::Create() { return std::unique_ptr<Range>(new Range()); }

StatusOr<std::vector<Tensor>> Range::Reference(std::span<const Tensor> inputs) const {
  if (inputs.size() != 3) return InvalidArgument("Range needs start, limit and delta");
  const DataType dtype = inputs[0].dtype();
  for (const auto& t : inputs) {
    if (!t.has_data() || t.num_elements() != 1 || t.dtype() != dtype) {
      return InvalidArgument("Range's start, limit and delta must be scalars of one dtype");
    }
  }
  if (dtype == DataType::kFloat32) {
    FOVEA_ASSIGN_OR_RETURN(Tensor y, Sequence<float>(dtype, inputs[0].data<float>()[0], inputs[1].data<float>()[0],
                                                     inputs[2].data<float>()[0]));
    return std::vector<Tensor>{y};
  }
  if (dtype == DataType::kInt64) {
    FOVEA_ASSIGN_OR_RETURN(Tensor y, Sequence<int64_t>(dtype, inputs[0].data<int64_t>()[0],
                                                       inputs[1].data<int64_t>()[0], inputs[2].data<int64_t>()[0]));
    return std::vector<Tensor>{y};
  }
  return InvalidArgument(std::string("Range on ") + DataTypeName(dtype) + " is not supported; float32 or int64");
}

StatusOr<std::vector<PlanValue>> Range::Emit(PlanBuilder&, std::span<const PlanValue>) const {
  return OnlyOnConstants(type());
}

}  // namespace fovea::engine::ops
