#pragma once
// Helpers for engine tests: seeded random tensors, one-node graphs, running a graph through Session, and comparing
// tensors with a tolerance.

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "engine/graph.h"
#include "engine/ops/pool.h"
#include "engine/session.h"

namespace fovea::engine::testing {

// Relative tolerance of the oneDNN paths against the double-accumulating reference kernels.
constexpr float kRelativeTolerance = 1e-4f;
// uint8/int8 results may differ by one step: the final rounding of two float paths can fall either way of a half.
constexpr int kQuantizedStepTolerance = 1;

// A float32 tensor of `shape` with values uniform in [low, high), from a generator seeded with `seed`.
Tensor RandomTensor(const Shape& shape, uint32_t seed, float low = -1.0f, float high = 1.0f);

// An operand of a one-node graph: a graph input (runtime) or an initializer (constant). An absent optional input is
// an Operand whose tensor has no data.
struct Operand {
  Tensor tensor;
  bool constant = false;
};
Operand Runtime(Tensor t);
Operand Constant(Tensor t);
Operand Absent();

// A graph with one node running `op` on `operands`, named in0, in1, ...; its single output is "out".
Graph OneNodeGraph(std::shared_ptr<const Op> op, const std::vector<Operand>& operands);

// Appends a node computing `outputs` from `inputs` with `op` (a StatusOr from an op's Create; fails the test on error).
template <typename OpOr>
void AddNode(Graph& graph, const std::string& name, OpOr op, std::vector<std::string> inputs,
             std::vector<std::string> outputs) {
  ASSERT_TRUE(op.ok()) << name << ": " << op.status().ToString();
  graph.nodes.push_back(
      {name, std::shared_ptr<const Op>(std::move(op).value()), std::move(inputs), std::move(outputs)});
}

// Runs `graph` through a Session (graph passes off) on `inputs`; fails the test on error.
StatusOr<std::vector<Tensor>> RunSession(const Graph& graph, const std::vector<Tensor>& inputs, bool optimize = false);

// Asserts that `actual` matches `expected` in shape and every element within kRelativeTolerance (relative to
// max(1, |expected|)); uint8/int8 elements within kQuantizedStepTolerance.
::testing::AssertionResult TensorsNear(const Tensor& expected, const Tensor& actual,
                                       float tolerance = kRelativeTolerance);

// Builds the one-node graph, runs it through Session and checks the output against op->Reference on the same values.
::testing::AssertionResult EmitMatchesReference(std::shared_ptr<const Op> op, const std::vector<Operand>& operands,
                                                float tolerance = kRelativeTolerance);

// Checks op.Backward against central finite differences of op.Reference: the loss is a fixed random weighting of
// every output element (double-accumulated), and up to `max_elements` elements of each input listed in
// `differentiable_inputs` are perturbed by ±`step`. Each analytic gradient must be within `tolerance` of the numeric
// one, relative to max(1, |numeric|). Inputs that are not differentiated are still passed to Backward as they are.
::testing::AssertionResult BackwardMatchesFiniteDifferences(const Op& op, const std::vector<Tensor>& inputs,
                                                            const std::vector<size_t>& differentiable_inputs = {0},
                                                            float step = 1e-3f, float tolerance = 1e-2f,
                                                            int64_t max_elements = 64);

// Pooling parameters: pads {top, left, bottom, right}; empty vectors take ONNX's defaults.
ops::PoolParams PoolingParams(ops::PoolParams::Kind kind, std::vector<int64_t> kernel,
                              std::vector<int64_t> strides = {}, std::vector<int64_t> pads = {}, bool ceil = false,
                              bool include_pad = false, std::vector<int64_t> dilations = {});
// Global pooling over the whole image.
ops::PoolParams GlobalPooling(ops::PoolParams::Kind kind);

// A tensor from explicit values, for hand-computed checks.
Tensor Floats(const Shape& shape, std::vector<float> values);
Tensor Int64s(const Shape& shape, std::vector<int64_t> values);

// Unwraps a StatusOr in tests: aborts the current test body with the status message when it failed.
#define FOVEA_ASSERT_OK_AND_ASSIGN(lhs, expr) \
  FOVEA_ASSERT_OK_AND_ASSIGN_IMPL(FOVEA_CONCAT(test_or_, __LINE__), lhs, expr)
#define FOVEA_ASSERT_OK_AND_ASSIGN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                    \
  ASSERT_TRUE(tmp.ok()) << tmp.status().ToString();     \
  lhs = std::move(tmp).value()

}  // namespace fovea::engine::testing
