// LayerNormalization, InstanceNormalization, LRN and MeanVarianceNormalization: reference kernels against
// hand-computed values, oneDNN plans against the reference kernels, and gradients.

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "engine/ops/instance_norm.h"
#include "engine/ops/layer_norm.h"
#include "engine/ops/lrn.h"
#include "engine/ops/mvn.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

template <typename OpOr>
std::shared_ptr<const Op> Shared(OpOr op) {
  EXPECT_TRUE(op.ok()) << op.status().ToString();
  return std::shared_ptr<const Op>(std::move(op).value());
}

std::shared_ptr<const Op> MakeLayerNorm(int64_t axis, float epsilon = 1e-5f) {
  return Shared(ops::LayerNorm::Create({.axis = axis, .epsilon = epsilon}));
}

TEST(LayerNormReference, MatchesHandComputedRow) {
  // Row {1, 3}: mean 2, variance 1, so x̂ = {−1, 1}; scale {2, 1} and B {0.5, 0} give {−1.5, 1}.
  const auto op = MakeLayerNorm(-1, 0.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, op->Reference(std::vector<Tensor>{Floats({1, 2}, {1, 3}), Floats({2}, {2, 1}),
                                                                         Floats({2}, {0.5f, 0})}));
  EXPECT_TRUE(TensorsNear(Floats({1, 2}, {-1.5f, 1}), out[0]));
  EXPECT_TRUE(TensorsNear(Floats({1, 1}, {2}), out[1]));
  EXPECT_TRUE(TensorsNear(Floats({1, 1}, {1}), out[2]));
}

struct LayerNormCase {
  std::string name;
  Shape x;
  int64_t axis;
  bool bias;
  bool constant_parameters;
};

class LayerNormEmitTest : public ::testing::TestWithParam<LayerNormCase> {};

TEST_P(LayerNormEmitTest, OneDnnMatchesReference) {
  const LayerNormCase& c = GetParam();
  const int64_t axis = c.axis < 0 ? c.axis + static_cast<int64_t>(c.x.size()) : c.axis;
  const Shape normalized(c.x.begin() + axis, c.x.end());
  const auto parameter = [&](uint32_t seed) {
    const Tensor t = RandomTensor(normalized, seed);
    return c.constant_parameters ? Constant(t) : Runtime(t);
  };
  std::vector<Operand> operands = {Runtime(RandomTensor(c.x, 1)), parameter(2)};
  if (c.bias) operands.push_back(parameter(3));
  EXPECT_TRUE(EmitMatchesReference(MakeLayerNorm(c.axis), operands));
}

INSTANTIATE_TEST_SUITE_P(Shapes, LayerNormEmitTest,
                         ::testing::Values(LayerNormCase{"Last", {4, 16}, -1, true, true},
                                           LayerNormCase{"LastRuntimeParameters", {2, 3, 8}, -1, true, false},
                                           LayerNormCase{"NoBias", {2, 3, 8}, 2, false, true},
                                           LayerNormCase{"ChannelsAndSpatial", {2, 3, 4, 5}, 1, true, true},
                                           LayerNormCase{"Everything", {3, 5}, 0, true, false}),
                         [](const auto& info) { return info.param.name; });

TEST(LayerNormEmit, StatisticsOutputsMatchReference) {
  const auto op = MakeLayerNorm(-2);
  const Tensor x = RandomTensor({2, 3, 4}, 5), scale = RandomTensor({3, 4}, 6);
  Graph graph = OneNodeGraph(op, {Runtime(x), Constant(scale)});
  graph.nodes[0].outputs = {"out", "mean", "inv_std"};
  graph.outputs.push_back({"mean", DataType::kFloat32, {}});
  graph.outputs.push_back({"inv_std", DataType::kFloat32, {}});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, op->Reference(std::vector<Tensor>{x, scale}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(graph, {x}));
  ASSERT_EQ(actual.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(TensorsNear(expected[i], actual[i])) << "output " << i;
}

TEST(LayerNormEmit, OneElementScaleAppliesToEveryElement) {
  EXPECT_TRUE(EmitMatchesReference(MakeLayerNorm(-1), {Runtime(RandomTensor({3, 6}, 1)), Constant(Floats({1}, {1.5f})),
                                                       Constant(Floats({1}, {-2}))}));
}

TEST(LayerNormBackward, MatchesFiniteDifferences) {
  const std::vector<Tensor> inputs = {RandomTensor({2, 3, 5}, 1), RandomTensor({3, 5}, 2), RandomTensor({3, 5}, 3)};
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*MakeLayerNorm(1), inputs, {0, 1, 2}));
  EXPECT_TRUE(
      BackwardMatchesFiniteDifferences(*MakeLayerNorm(-1), {RandomTensor({4, 6}, 4), RandomTensor({6}, 5)}, {0, 1}));
}

std::shared_ptr<const Op> MakeInstanceNorm(float epsilon = 1e-5f) {
  return Shared(ops::InstanceNorm::Create({.epsilon = epsilon}));
}

TEST(InstanceNormReference, NormalizesEachPlane) {
  // Two channels of one sample: {0, 2} → {−1, 1}·scale + B; {5, 5} → 0·scale + B (ε keeps 0/0 away).
  FOVEA_ASSERT_OK_AND_ASSIGN(
      auto out, MakeInstanceNorm(1e-6f)->Reference(
                    std::vector<Tensor>{Floats({1, 2, 2}, {0, 2, 5, 5}), Floats({2}, {3, 4}), Floats({2}, {1, -1})}));
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 2}, {-2, 4, -1, -1}), out[0]));
}

TEST(InstanceNormEmit, OneDnnMatchesReference) {
  for (const Shape& shape : {Shape{2, 3, 4, 5}, Shape{1, 4, 7}, Shape{2, 2, 3, 2, 2}}) {
    const Tensor scale = RandomTensor({shape[1]}, 2), bias = RandomTensor({shape[1]}, 3);
    const Tensor x = RandomTensor(shape, 1);
    EXPECT_TRUE(EmitMatchesReference(MakeInstanceNorm(), {Runtime(x), Constant(scale), Constant(bias)}))
        << ShapeToString(shape);
    EXPECT_TRUE(EmitMatchesReference(MakeInstanceNorm(), {Runtime(x), Runtime(scale), Runtime(bias)}))
        << ShapeToString(shape);
  }
}

TEST(InstanceNormBackward, MatchesFiniteDifferences) {
  const std::vector<Tensor> inputs = {RandomTensor({2, 3, 2, 3}, 1), RandomTensor({3}, 2), RandomTensor({3}, 3)};
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*MakeInstanceNorm(), inputs, {0, 1, 2}));
}

std::shared_ptr<const Op> MakeLrn(int64_t size, float alpha, float beta, float bias) {
  return Shared(ops::Lrn::Create({.alpha = alpha, .beta = beta, .bias = bias, .size = size}));
}

TEST(LrnReference, DividesAlphaByTheWindowSize) {
  // size 3, alpha 3 (alpha/size = 1), beta 1, bias 1 on channels {1, 2, 3}: windows {0,1}, {0,1,2}, {1,2}.
  const Tensor x = Floats({1, 3, 1, 1}, {1, 2, 3});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, MakeLrn(3, 3.0f, 1.0f, 1.0f)->Reference(std::vector{x}));
  const Tensor expected = Floats({1, 3, 1, 1}, {1.0f / 6, 2.0f / 15, 3.0f / 14});
  EXPECT_TRUE(TensorsNear(expected, out[0]));
  // oneDNN's alpha convention must be ONNX's: the same hand-computed values from the plan.
  FOVEA_ASSERT_OK_AND_ASSIGN(auto planned, RunSession(OneNodeGraph(MakeLrn(3, 3.0f, 1.0f, 1.0f), {Runtime(x)}), {x}));
  EXPECT_TRUE(TensorsNear(expected, planned[0]));
}

TEST(LrnEmit, OneDnnMatchesReferenceForOddAndEvenWindows) {
  for (int64_t size : {1, 2, 3, 4, 5}) {
    const auto op = MakeLrn(size, 0.5f, 0.75f, 2.0f);
    EXPECT_TRUE(EmitMatchesReference(op, {Runtime(RandomTensor({2, 6, 3, 4}, 1, -2.0f, 2.0f))})) << size;
  }
  EXPECT_TRUE(EmitMatchesReference(MakeLrn(3, 1e-4f, 0.75f, 1.0f), {Runtime(RandomTensor({1, 5, 7}, 2))}));
}

TEST(LrnBackward, MatchesFiniteDifferences) {
  for (int64_t size : {2, 3}) {
    EXPECT_TRUE(BackwardMatchesFiniteDifferences(*MakeLrn(size, 0.8f, 0.75f, 1.5f), {RandomTensor({2, 5, 2, 2}, 1)}));
  }
}

TEST(MvnReference, NormalizesOverTheAxes) {
  // One channel {1, 3}: mean 2, standard deviation 1.
  const auto op = Shared(ops::Mvn::Create({.axes = {0, 2, 3}}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, op->Reference(std::vector{Floats({1, 2, 1, 2}, {1, 3, 10, 10})}));
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 1, 2}, {-1, 1, 0, 0}), out[0]));
}

TEST(MvnEmit, HostStepMatchesReference) {
  EXPECT_TRUE(EmitMatchesReference(Shared(ops::Mvn::Create({})), {Runtime(RandomTensor({2, 3, 4, 5}, 1))}));
  EXPECT_TRUE(EmitMatchesReference(Shared(ops::Mvn::Create({.axes = {-1}})), {Runtime(RandomTensor({3, 4, 6}, 2))}));
}

TEST(MvnBackward, MatchesFiniteDifferences) {
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*Shared(ops::Mvn::Create({})), {RandomTensor({2, 2, 3, 2}, 1)}));
}

}  // namespace
}  // namespace fovea::engine::testing
