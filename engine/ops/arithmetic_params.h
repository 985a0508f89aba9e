#pragma once
// The element-wise arithmetic and reduction kinds, as values: the Binary and Reduce ops run them, and graph passes
// that recognize formulas exporters write out op by op (the decomposed layer normalization) ask an op for them through
// Op::AsBinary and Op::AsReduction.

#include <cstdint>
#include <vector>

namespace fovea::engine::ops {

enum class BinaryKind { kAdd, kSub, kMul, kDiv, kPow, kMin, kMax };

enum class ReduceKind { kMean, kMax, kMin, kSum, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// A reduction with its axes resolved (as the model states them: negative axes count from the end).
struct Reduction {
  ReduceKind kind = ReduceKind::kSum;
  std::vector<int64_t> axes;
  bool keepdims = true;
};

}  // namespace fovea::engine::ops
