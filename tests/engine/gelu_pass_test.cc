// FuseGeluPattern: the decomposed GELU exporters write becomes one Gelu activation that computes what the pattern
// computed.

#include <numbers>
#include <string>

#include <gtest/gtest.h>

#include "engine/gelu_pass.h"
#include "engine/ops/activation.h"
#include "engine/ops/binary.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using Kind = ops::BinaryParams::Kind;

StatusOr<std::unique_ptr<ops::Binary>> MakeBinary(Kind kind) { return ops::Binary::Create({.kind = kind}); }

struct PatternOptions {
  bool scale_by_mul = false;  // Mul(x, 1/√2) instead of Div(x, √2)
  bool half_first = false;    // (x · 0.5) · (1 + erf) instead of (x · (1 + erf)) · 0.5
  float sqrt_two = static_cast<float>(std::numbers::sqrt2);
  bool erf_read_elsewhere = false;
};

// x [2, 3, 4] → the decomposed GELU → "y".
Graph PatternGraph(const PatternOptions& options) {
  Graph g;
  g.inputs.push_back({"x", DataType::kFloat32, {2, 3, 4}});
  g.initializers["sqrt2"] = Floats({}, {options.sqrt_two});
  g.initializers["inv_sqrt2"] = Floats({}, {1.0f / options.sqrt_two});
  g.initializers["one"] = Floats({}, {1.0f});
  g.initializers["half"] = Floats({}, {0.5f});
  if (options.scale_by_mul) {
    AddNode(g, "scale", MakeBinary(Kind::kMul), {"inv_sqrt2", "x"}, {"s"});
  } else {
    AddNode(g, "scale", MakeBinary(Kind::kDiv), {"x", "sqrt2"}, {"s"});
  }
  AddNode(g, "erf", ops::Activation::Create({.kind = ops::ActivationKind::kErf}), {"s"}, {"e"});
  AddNode(g, "add_one", MakeBinary(Kind::kAdd), {"one", "e"}, {"a"});
  if (options.half_first) {
    AddNode(g, "half", MakeBinary(Kind::kMul), {"x", "half"}, {"h"});
    AddNode(g, "product", MakeBinary(Kind::kMul), {"a", "h"}, {"y"});
  } else {
    AddNode(g, "product", MakeBinary(Kind::kMul), {"x", "a"}, {"p"});
    AddNode(g, "half", MakeBinary(Kind::kMul), {"p", "half"}, {"y"});
  }
  g.outputs.push_back({"y", DataType::kFloat32, {}});
  if (options.erf_read_elsewhere) g.outputs.push_back({"e", DataType::kFloat32, {}});
  return g;
}

// Fuses `options`' pattern, checks that one Gelu node is left, then that it computes what the pattern did, with its
// reference kernel and through a Session (oneDNN's gelu_erf).
void ExpectFused(const PatternOptions& options) {
  const Graph original = PatternGraph(options);
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph fused, FuseGeluPattern(original));
  ASSERT_TRUE(ValidateGraph(fused).ok());
  ASSERT_EQ(fused.nodes.size(), 1u);
  EXPECT_EQ(fused.nodes[0].op->type(), "Gelu");
  const std::vector<Tensor> inputs = {RandomTensor({2, 3, 4}, 1)};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(original, inputs));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunReference(fused, inputs));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto planned, RunSession(fused, inputs));
  EXPECT_TRUE(TensorsNear(expected[0], planned[0]));
}

TEST(FuseGeluPattern, TorchFormBecomesOneNode) { ExpectFused({}); }

TEST(FuseGeluPattern, MulByInverseSqrtTwoAndHalfFirstBecomeOneNode) {
  ExpectFused({.scale_by_mul = true, .half_first = true});
}

TEST(FuseGeluPattern, LeavesPatternAloneWhenAnIntermediateIsReadElsewhere) {
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph fused, FuseGeluPattern(PatternGraph({.erf_read_elsewhere = true})));
  EXPECT_EQ(fused.nodes.size(), 5u);
}

TEST(FuseGeluPattern, LeavesOtherConstantsAlone) {
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph fused, FuseGeluPattern(PatternGraph({.sqrt_two = 1.5f})));
  EXPECT_EQ(fused.nodes.size(), 5u) << "x / 1.5 is not GELU's scaling";
}

}  // namespace
}  // namespace fovea::engine::testing
