// FuseLayerNormPattern: the decomposed layer normalization older exporters write becomes one LayerNormalization node
// that computes what the pattern computed.

#include <string>

#include <gtest/gtest.h>

#include "engine/layer_norm_pass.h"
#include "engine/ops/activation.h"
#include "engine/ops/binary.h"
#include "engine/ops/reduce.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

StatusOr<std::unique_ptr<Op>> MakeMean(std::vector<int64_t> axes) {
  FOVEA_ASSIGN_OR_RETURN(auto op, ops::Reduce::Create({.kind = ops::ReduceKind::kMean, .axes = std::move(axes)}));
  return std::unique_ptr<Op>(std::move(op));
}

StatusOr<std::unique_ptr<Op>> MakeBinary(ops::BinaryParams::Kind kind) {
  FOVEA_ASSIGN_OR_RETURN(auto op, ops::Binary::Create({.kind = kind}));
  return std::unique_ptr<Op>(std::move(op));
}

StatusOr<std::unique_ptr<Op>> MakeSqrt() {
  ops::ActivationParams sqrt;
  sqrt.kind = ops::ActivationKind::kSqrt;
  FOVEA_ASSIGN_OR_RETURN(auto op, ops::Activation::Create(sqrt));
  return std::unique_ptr<Op>(std::move(op));
}

struct PatternOptions {
  bool square_by_mul = false;  // Mul(d, d) instead of Pow(d, 2)
  bool affine = true;          // Mul(gamma) and Add(beta) after the division
  bool d_read_elsewhere = false;
  std::vector<int64_t> axes = {-1};
};

// x [2, 3, 4] → the decomposed layer normalization over `axes` → "y".
Graph PatternGraph(const PatternOptions& options) {
  using Kind = ops::BinaryParams::Kind;
  Graph g;
  g.inputs.push_back({"x", DataType::kFloat32, {2, 3, 4}});
  const Shape normalized = options.axes.size() == 1 ? Shape{4} : Shape{3, 4};
  g.initializers["two"] = Floats({}, {2});
  g.initializers["eps"] = Floats({}, {1e-3f});
  g.initializers["gamma"] = RandomTensor(normalized, 2);
  g.initializers["beta"] = RandomTensor(normalized, 3);
  AddNode(g, "mean", MakeMean(options.axes), {"x"}, {"m"});
  AddNode(g, "sub", MakeBinary(Kind::kSub), {"x", "m"}, {"d"});
  if (options.square_by_mul) {
    AddNode(g, "square", MakeBinary(Kind::kMul), {"d", "d"}, {"d2"});
  } else {
    AddNode(g, "square", MakeBinary(Kind::kPow), {"d", "two"}, {"d2"});
  }
  AddNode(g, "var", MakeMean(options.axes), {"d2"}, {"v"});
  AddNode(g, "add_eps", MakeBinary(Kind::kAdd), {"v", "eps"}, {"ve"});
  AddNode(g, "sqrt", MakeSqrt(), {"ve"}, {"s"});
  AddNode(g, "div", MakeBinary(Kind::kDiv), {"d", "s"}, {options.affine ? "n" : "y"});
  if (options.affine) {
    AddNode(g, "scale", MakeBinary(Kind::kMul), {"n", "gamma"}, {"g"});
    AddNode(g, "shift", MakeBinary(Kind::kAdd), {"beta", "g"}, {"y"});
  }
  g.outputs.push_back({"y", DataType::kFloat32, {}});
  if (options.d_read_elsewhere) g.outputs.push_back({"d", DataType::kFloat32, {}});
  return g;
}

// Fuses `options`' pattern and checks the node count left, then that the fused graph computes what the pattern did,
// with its reference kernels and (when fully fused) through a Session.
void ExpectFused(const PatternOptions& options, size_t nodes_left) {
  const Graph original = PatternGraph(options);
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph fused, FuseLayerNormPattern(original));
  ASSERT_TRUE(ValidateGraph(fused).ok());
  ASSERT_EQ(fused.nodes.size(), nodes_left);
  EXPECT_EQ(fused.nodes.back().op->type(), "LayerNormalization");
  const std::vector<Tensor> inputs = {RandomTensor({2, 3, 4}, 1)};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(original, inputs));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunReference(fused, inputs));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto planned, RunSession(fused, inputs));
  EXPECT_TRUE(TensorsNear(expected[0], planned[0]));
}

TEST(FuseLayerNormPattern, PowPatternWithAffineBecomesOneNode) { ExpectFused({}, 1); }

TEST(FuseLayerNormPattern, MulSquareWithoutAffineBecomesOneNode) {
  ExpectFused({.square_by_mul = true, .affine = false}, 1);
}

TEST(FuseLayerNormPattern, SeveralTrailingAxesBecomeOneNode) { ExpectFused({.axes = {-2, -1}}, 1); }

TEST(FuseLayerNormPattern, LeavesPatternAloneWhenAnIntermediateIsReadElsewhere) {
  const Graph original = PatternGraph({.d_read_elsewhere = true});
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph fused, FuseLayerNormPattern(original));
  EXPECT_EQ(fused.nodes.size(), original.nodes.size());
}

TEST(FuseLayerNormPattern, LeavesPatternAloneForLeadingAxes) {
  const Graph original = PatternGraph({.axes = {1}});
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph fused, FuseLayerNormPattern(original));
  EXPECT_EQ(fused.nodes.size(), original.nodes.size());
}

}  // namespace
}  // namespace fovea::engine::testing
