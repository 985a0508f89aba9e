// The inference passes treat ConvTranspose like Conv: a following BatchNormalization folds into its weights and bias,
// and a residual Add and activations become its post-ops, with the graph's result unchanged.

#include <gtest/gtest.h>

#include "engine/ops/activation.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/conv_transpose.h"
#include "engine/passes.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

Graph DecoderBlock(int64_t group) {
  constexpr int64_t kIn = 4, kOut = 6;
  Graph g;
  g.inputs.push_back({"x", DataType::kFloat32, {-1, kIn, 5, 5}});
  g.inputs.push_back({"skip", DataType::kFloat32, {-1, kOut, 10, 10}});
  g.initializers["w"] = RandomTensor({kIn, kOut / group, 2, 2}, 21);
  g.initializers["b"] = RandomTensor({kOut}, 22);
  g.initializers["gamma"] = RandomTensor({kOut}, 23, 0.5f, 1.5f);
  g.initializers["beta"] = RandomTensor({kOut}, 24);
  g.initializers["mean"] = RandomTensor({kOut}, 25);
  g.initializers["var"] = RandomTensor({kOut}, 26, 0.5f, 1.5f);
  ops::ConvTransposeParams up;
  up.window.strides = {2, 2};
  up.group = group;
  AddNode(g, "up", ops::ConvTranspose::Create(up), {"x", "w", "b"}, {"u"});
  AddNode(g, "bn", ops::BatchNorm::Create({}), {"u", "gamma", "beta", "mean", "var"}, {"n"});
  AddNode(g, "add", ops::Binary::Create({ops::BinaryParams::Kind::kAdd}), {"n", "skip"}, {"s"});
  AddNode(g, "relu", ops::Activation::Create({ops::ActivationKind::kRelu}), {"s"}, {"y"});
  g.outputs.push_back({"y", DataType::kFloat32, {}});
  return g;
}

class ConvTransposeFusionTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(ConvTransposeFusionTest, BatchNormSumAndReluFuseIntoOneNode) {
  const Graph graph = DecoderBlock(GetParam());
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph optimized, OptimizeForInference(graph));
  ASSERT_EQ(1u, optimized.nodes.size()) << "BN, Add and Relu should all be fused into the ConvTranspose";
  const std::vector<Tensor> inputs = {RandomTensor({2, 4, 5, 5}, 27), RandomTensor({2, 6, 10, 10}, 28)};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, inputs));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto folded_reference, RunReference(optimized, inputs));
  EXPECT_TRUE(TensorsNear(expected[0], folded_reference[0]));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(graph, inputs, /*optimize=*/true));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0]));
}

INSTANTIATE_TEST_SUITE_P(Groups, ConvTransposeFusionTest, ::testing::Values(1, 2));

}  // namespace
}  // namespace fovea::engine::testing
