// Graph passes: the optimized graph computes what the original does, with fewer nodes.

#include <gtest/gtest.h>

#include "engine/model.h"
#include "engine/ops/activation.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/conv.h"
#include "engine/ops/identity.h"
#include "engine/passes.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

constexpr int64_t kChannels = 8;

ops::ActivationParams Relu() { return {ops::ActivationKind::kRelu}; }

// x -> Identity -> Conv -> BatchNorm -> Dropout -> Relu -> Add(x) -> Relu -> out: a residual block as exported.
Graph ResidualBlock() {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, kChannels, 6, 6}}};
  g.initializers["w"] = RandomTensor({kChannels, kChannels, 3, 3}, 1, -0.3f, 0.3f);
  g.initializers["b"] = RandomTensor({kChannels}, 2);
  g.initializers["gamma"] = RandomTensor({kChannels}, 3, 0.5f, 1.5f);
  g.initializers["beta"] = RandomTensor({kChannels}, 4);
  g.initializers["mean"] = RandomTensor({kChannels}, 5);
  g.initializers["var"] = RandomTensor({kChannels}, 6, 0.5f, 2.0f);
  ops::ConvParams conv;
  conv.window.pads_begin = conv.window.pads_end = {1, 1};
  AddNode(g, "identity", ops::Identity::Create({}), {"x"}, {"x_copy"});
  AddNode(g, "conv", ops::Conv::Create(conv), {"x_copy", "w", "b"}, {"conv_out"});
  AddNode(g, "bn", ops::BatchNorm::Create({.epsilon = 1e-5f}), {"conv_out", "gamma", "beta", "mean", "var"},
          {"bn_out"});
  AddNode(g, "dropout", ops::Identity::Create({.is_dropout = true}), {"bn_out"}, {"dropped"});
  AddNode(g, "relu1", ops::Activation::Create(Relu()), {"dropped"}, {"relu1_out"});
  AddNode(g, "add", ops::Binary::Create({ops::BinaryParams::Kind::kAdd}), {"relu1_out", "x"}, {"sum"});
  AddNode(g, "relu2", ops::Activation::Create(Relu()), {"sum"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  return g;
}

TEST(Passes, OptimizedResidualBlockMatchesUnoptimized) {
  const Graph g = ResidualBlock();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto optimized, Model::Create(g, {}, {.optimize = true}));
  // Everything folds or fuses into the one Conv: BN into its weights, ReLU, residual sum and ReLU as post-ops.
  ASSERT_EQ(1u, optimized->graph().nodes.size());
  EXPECT_LT(optimized->graph().nodes.size(), g.nodes.size());
  const auto* conv = dynamic_cast<const ops::Conv*>(optimized->graph().nodes[0].op.get());
  ASSERT_NE(nullptr, conv);
  EXPECT_EQ(3u, conv->params().post_ops.size());
  for (int64_t batch : {1, 4}) {
    const std::vector<Tensor> inputs = {RandomTensor({batch, kChannels, 6, 6}, 10)};
    FOVEA_ASSERT_OK_AND_ASSIGN(auto fast, RunSession(g, inputs, /*optimize=*/true));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto slow, RunSession(g, inputs, /*optimize=*/false));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto reference, RunReference(g, inputs));
    EXPECT_TRUE(TensorsNear(slow[0], fast[0]));
    EXPECT_TRUE(TensorsNear(reference[0], fast[0]));
    // The optimized graph's own reference (folded weights, fused post-ops) agrees too.
    FOVEA_ASSERT_OK_AND_ASSIGN(auto folded_reference, RunReference(optimized->graph(), inputs));
    EXPECT_TRUE(TensorsNear(reference[0], folded_reference[0]));
  }
}

TEST(Passes, RemoveNoOpsDropsIdentityAndDropoutOnly) {
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph g, RemoveNoOps(ResidualBlock()));
  EXPECT_EQ(5u, g.nodes.size());
  for (const auto& node : g.nodes) {
    EXPECT_EQ(nullptr, dynamic_cast<const ops::Identity*>(node.op.get())) << node.name;
  }
  EXPECT_EQ("x", g.nodes[0].inputs[0]);       // the conv reads x directly
  EXPECT_EQ("bn_out", g.nodes[2].inputs[0]);  // relu1 reads the BN output directly
  EXPECT_TRUE(ValidateGraph(g).ok());
}

TEST(Passes, SharedConvOutputIsNotFused) {
  // When the Conv's output has a second reader, neither BN folding nor post-op fusion may rewrite it.
  Graph g = ResidualBlock();
  g.outputs.push_back({"conv_out", DataType::kFloat32, {}});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto optimized, Model::Create(g, {}, {.optimize = true}));
  const auto* conv = dynamic_cast<const ops::Conv*>(optimized->graph().nodes[0].op.get());
  ASSERT_NE(nullptr, conv);
  EXPECT_TRUE(conv->params().post_ops.empty());
  const std::vector<Tensor> inputs = {RandomTensor({2, kChannels, 6, 6}, 11)};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto fast, RunSession(g, inputs, /*optimize=*/true));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto reference, RunReference(g, inputs));
  ASSERT_EQ(2u, fast.size());
  EXPECT_TRUE(TensorsNear(reference[0], fast[0]));
  EXPECT_TRUE(TensorsNear(reference[1], fast[1]));
}

}  // namespace
}  // namespace fovea::engine::testing
