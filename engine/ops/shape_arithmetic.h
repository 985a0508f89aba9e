#pragma once
// What the shape-arithmetic ops (comparisons, logic, Where, Range, ConstantOfShape) share: numpy broadcasting for
// their reference kernels, and the error for a runtime input, since they only run folded at plan time.

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "engine/tensor.h"

namespace fovea::engine::ops {

// The broadcast of all `shapes`, or an error naming the first pair that does not broadcast.
StatusOr<Shape> BroadcastAll(const std::vector<Shape>& shapes);

// For each operand, the flat index it is read at for every element of `out` (row-major), numpy rules. Meant for the
// small tensors of shape arithmetic: it materializes one index per element and operand.
std::vector<std::vector<int64_t>> BroadcastIndices(const Shape& out, const std::vector<Shape>& operands);

// Every element of `t` as a double (float32, int64, uint8/int8, bool), for ops that compare across dtypes.
double ElementAsDouble(const Tensor& t, int64_t index);

// UNIMPLEMENTED naming `op`: what Emit answers, because these ops run only on values known when the model loads.
Status OnlyOnConstants(std::string_view op);

}  // namespace fovea::engine::ops
