// The reductions (Reduce*) and ArgMax/ArgMin: reference kernels against hand-computed values, oneDNN plans against
// the reference kernels, geometry and gradients.

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "engine/ops/arg_reduce.h"
#include "engine/ops/reduce.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::ReduceKind;

constexpr ReduceKind kAllKinds[] = {
    ReduceKind::kMean, ReduceKind::kMax, ReduceKind::kMin,       ReduceKind::kSum,    ReduceKind::kProd,
    ReduceKind::kL1,   ReduceKind::kL2,  ReduceKind::kSumSquare, ReduceKind::kLogSum, ReduceKind::kLogSumExp};

std::shared_ptr<const Op> MakeReduce(ReduceKind kind, std::vector<int64_t> axes, bool keepdims = true) {
  ops::ReduceParams params;
  params.kind = kind;
  params.axes = std::move(axes);
  params.keepdims = keepdims;
  auto op = ops::Reduce::Create(params);
  EXPECT_TRUE(op.ok());
  return std::shared_ptr<const Op>(std::move(op).value());
}

// Inputs in a range every kind is defined and well conditioned on: LogSum needs positive sums, Prod values near 1.
Tensor InputFor(ReduceKind kind, const Shape& shape, uint32_t seed) {
  if (kind == ReduceKind::kLogSum) return RandomTensor(shape, seed, 0.1f, 2.0f);
  if (kind == ReduceKind::kProd) return RandomTensor(shape, seed, 0.6f, 1.4f);
  return RandomTensor(shape, seed);
}

struct ExpectedRow {
  ReduceKind kind;
  std::vector<float> values;  // the reduction of each row of {{1, -2, 3}, {4, 5, -6}}
};

TEST(ReduceReference, MatchesHandComputedRows) {
  const Tensor x = Floats({2, 3}, {1, -2, 3, 4, 5, -6});
  const auto lse = [](double a, double b, double c) {
    return static_cast<float>(std::log(std::exp(a) + std::exp(b) + std::exp(c)));
  };
  const std::vector<ExpectedRow> rows = {
      {ReduceKind::kMean, {2.0f / 3, 1.0f}},
      {ReduceKind::kMax, {3, 5}},
      {ReduceKind::kMin, {-2, -6}},
      {ReduceKind::kSum, {2, 3}},
      {ReduceKind::kProd, {-6, -120}},
      {ReduceKind::kL1, {6, 15}},
      {ReduceKind::kL2, {std::sqrt(14.0f), std::sqrt(77.0f)}},
      {ReduceKind::kSumSquare, {14, 77}},
      {ReduceKind::kLogSum, {std::log(2.0f), std::log(3.0f)}},
      {ReduceKind::kLogSumExp, {lse(1, -2, 3), lse(4, 5, -6)}},
  };
  for (const auto& row : rows) {
    const auto op = MakeReduce(row.kind, {1});
    FOVEA_ASSERT_OK_AND_ASSIGN(auto out, op->Reference(std::vector<Tensor>{x}));
    EXPECT_TRUE(TensorsNear(Floats({2, 1}, row.values), out[0])) << op->type();
  }
}

TEST(ReduceReference, KeepdimsZeroDropsTheAxesAndEmptyAxesReduceEverything) {
  const Tensor x = Floats({2, 3}, {1, -2, 3, 4, 5, -6});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto by_column, MakeReduce(ReduceKind::kSum, {0}, false)->Reference(std::vector{x}));
  EXPECT_TRUE(TensorsNear(Floats({3}, {5, 3, -3}), by_column[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto all, MakeReduce(ReduceKind::kMax, {}, false)->Reference(std::vector{x}));
  EXPECT_TRUE(TensorsNear(Floats({}, {5}), all[0]));
}

TEST(ReduceReference, FoldsInt64ShapeArithmeticExactly) {
  // ReduceProd of a Shape, as exporters write to flatten: [3, 5, 7] → 105 with no float rounding.
  const Tensor dims = Int64s({3}, {3000000, 5000000, 7});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto product, MakeReduce(ReduceKind::kProd, {0}, false)->Reference(std::vector{dims}));
  EXPECT_TRUE(TensorsNear(Int64s({}, {int64_t{105000000000000}}), product[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto max, MakeReduce(ReduceKind::kMax, {})->Reference(std::vector{dims}));
  EXPECT_TRUE(TensorsNear(Int64s({1}, {5000000}), max[0]));
  EXPECT_FALSE(MakeReduce(ReduceKind::kL2, {0})->Reference(std::vector{dims}).ok());
}

TEST(ReduceReference, NoopWithEmptyAxesReturnsTheInput) {
  ops::ReduceParams params;
  params.kind = ReduceKind::kSum;
  params.axes_from_input = true;
  params.noop_with_empty_axes = true;
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> op, ops::Reduce::Create(params));
  const Tensor x = RandomTensor({2, 3}, 1);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, op->Reference(std::vector<Tensor>{x, Tensor()}));
  EXPECT_TRUE(TensorsNear(x, out[0]));
  EXPECT_TRUE(EmitMatchesReference(op, {Runtime(x), Absent()}));
  // With axes given, the same op reduces along them.
  FOVEA_ASSERT_OK_AND_ASSIGN(auto summed, op->Reference(std::vector<Tensor>{x, Int64s({1}, {-1})}));
  EXPECT_EQ(summed[0].shape(), (Shape{2, 1}));
  EXPECT_TRUE(EmitMatchesReference(op, {Runtime(x), Constant(Int64s({1}, {-1}))}));
}

TEST(ReduceReference, LogSumExpStaysFiniteOnLargeInputs) {
  const Tensor x = Floats({1, 3}, {1000, 1000, 1000});
  const auto op = MakeReduce(ReduceKind::kLogSumExp, {1});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, op->Reference(std::vector<Tensor>{x}));
  EXPECT_TRUE(TensorsNear(Floats({1, 1}, {1000 + std::log(3.0f)}), out[0]));
  EXPECT_TRUE(EmitMatchesReference(op, {Runtime(x)}));
}

struct AxesCase {
  std::string name;
  Shape shape;
  std::vector<int64_t> axes;
};

class ReduceEmitTest : public ::testing::TestWithParam<std::tuple<ReduceKind, AxesCase, bool>> {};

TEST_P(ReduceEmitTest, OneDnnMatchesReference) {
  const auto& [kind, c, keepdims] = GetParam();
  const auto op = MakeReduce(kind, c.axes, keepdims);
  EXPECT_TRUE(EmitMatchesReference(op, {Runtime(InputFor(kind, c.shape, 7))})) << op->type();
}

INSTANTIATE_TEST_SUITE_P(
    Reductions, ReduceEmitTest,
    ::testing::Combine(::testing::ValuesIn(kAllKinds),
                       ::testing::Values(AxesCase{"All", {2, 3, 4, 5}, {}}, AxesCase{"Channels", {2, 3, 4, 5}, {1}},
                                         AxesCase{"Spatial", {2, 3, 4, 5}, {2, 3}},
                                         AxesCase{"BatchAndHeight", {2, 3, 4, 5}, {0, -2}},
                                         AxesCase{"Last", {3, 17}, {-1}}, AxesCase{"Vector", {9}, {0}},
                                         AxesCase{"SizeOneAxis", {3, 1, 4}, {1}}),
                       ::testing::Bool()),
    [](const auto& info) {
      const auto op = MakeReduce(std::get<0>(info.param), {});
      return std::string(op->type()) + std::get<1>(info.param).name + (std::get<2>(info.param) ? "Keep" : "Drop");
    });

TEST(ReduceGeometry, SpatialIsGlobalChannelsArePointwiseOthersRefuse) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto spatial, MakeReduce(ReduceKind::kMean, {2, 3})->Geometry({}));
  EXPECT_TRUE(spatial.global);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto negative, MakeReduce(ReduceKind::kMax, {-1, -2}, false)->Geometry({}));
  EXPECT_TRUE(negative.global);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto channels, MakeReduce(ReduceKind::kSum, {1})->Geometry({}));
  EXPECT_FALSE(channels.global);
  EXPECT_EQ(channels.window, (std::array<int64_t, 2>{1, 1}));
  EXPECT_FALSE(MakeReduce(ReduceKind::kSum, {3})->Geometry({}).ok());
  EXPECT_FALSE(MakeReduce(ReduceKind::kSum, {0, 2, 3})->Geometry({}).ok());
  EXPECT_FALSE(MakeReduce(ReduceKind::kSum, {1}, false)->Geometry({}).ok());
}

class ReduceBackwardTest : public ::testing::TestWithParam<ReduceKind> {};

TEST_P(ReduceBackwardTest, MatchesFiniteDifferences) {
  const ReduceKind kind = GetParam();
  for (const auto& axes : {std::vector<int64_t>{1}, std::vector<int64_t>{0, 2}, std::vector<int64_t>{}}) {
    const auto op = MakeReduce(kind, axes, /*keepdims=*/false);
    EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, {InputFor(kind, {2, 3, 4}, 3)})) << op->type();
  }
}

INSTANTIATE_TEST_SUITE_P(Reductions, ReduceBackwardTest, ::testing::ValuesIn(kAllKinds),
                         [](const auto& info) { return std::string(MakeReduce(info.param, {})->type()); });

std::shared_ptr<const Op> MakeArg(bool is_max, int64_t axis, bool keepdims, bool last) {
  auto op = ops::ArgReduce::Create({.is_max = is_max, .axis = axis, .keepdims = keepdims, .select_last_index = last});
  EXPECT_TRUE(op.ok());
  return std::shared_ptr<const Op>(std::move(op).value());
}

TEST(ArgReduceReference, FindsFirstOrLastExtremeIndex) {
  const Tensor x = Floats({2, 4}, {1, 7, 7, 0, 3, -1, 3, -1});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto first_max, MakeArg(true, 1, true, false)->Reference(std::vector{x}));
  EXPECT_TRUE(TensorsNear(Int64s({2, 1}, {1, 0}), first_max[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto last_max, MakeArg(true, -1, false, true)->Reference(std::vector{x}));
  EXPECT_TRUE(TensorsNear(Int64s({2}, {2, 2}), last_max[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto last_min, MakeArg(false, 1, false, true)->Reference(std::vector{x}));
  EXPECT_TRUE(TensorsNear(Int64s({2}, {3, 3}), last_min[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto column_min, MakeArg(false, 0, true, false)->Reference(std::vector{x}));
  EXPECT_TRUE(TensorsNear(Int64s({1, 4}, {0, 1, 1, 1}), column_min[0]));
}

TEST(ArgReduceSession, RunsOnRuntimeAndConstantInputs) {
  const Tensor x = RandomTensor({2, 5, 3, 4}, 9);
  for (const bool keepdims : {true, false}) {
    for (const int64_t axis : {1, -1}) {
      EXPECT_TRUE(EmitMatchesReference(MakeArg(true, axis, keepdims, false), {Runtime(x)})) << axis;
      EXPECT_TRUE(EmitMatchesReference(MakeArg(false, axis, keepdims, true), {Runtime(x)})) << axis;
    }
  }
  const auto op = MakeArg(true, 1, true, false);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto folded,
                             RunSession(OneNodeGraph(op, {Constant(Floats({2, 3}, {0, 5, 1, 9, 2, 3}))}), {}));
  EXPECT_TRUE(TensorsNear(Int64s({2, 1}, {1, 0}), folded[0]));
}

TEST(ArgReduceSession, RuntimeIndicesMayOnlyBeGraphOutputs) {
  // ArgMax → ReduceSum: the sum would read int64 bytes as floats, so the plan refuses it.
  Graph graph = OneNodeGraph(MakeArg(true, 1, true, false), {Runtime(RandomTensor({2, 3}, 1))});
  graph.nodes[0].outputs = {"indices"};
  graph.nodes.push_back({"sum", MakeReduce(ReduceKind::kSum, {}), {"indices"}, {"out"}});
  const auto result = RunSession(graph, {RandomTensor({2, 3}, 1)});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace fovea::engine::testing
