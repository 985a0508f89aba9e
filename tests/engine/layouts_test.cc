// A branchy graph whose values travel in the blocked layouts oneDNN picks for convolutions (BatchNorm, pooling,
// concat, broadcast arithmetic and softmax on them), through Session against the reference interpreter.

#include <gtest/gtest.h>

#include "engine/model.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/matmul.h"
#include "engine/ops/pool.h"
#include "engine/ops/softmax.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using Kind = ops::BinaryParams::Kind;

ops::ConvParams Padded(int64_t pad, int64_t stride) {
  ops::ConvParams p;
  p.window.pads_begin = p.window.pads_end = {pad, pad};
  p.window.strides = {stride, stride};
  return p;
}

void AddBatchNorm(Graph& g, int64_t channels) {
  g.initializers["gamma"] = RandomTensor({channels}, 30, 0.5f, 1.5f);
  g.initializers["beta"] = RandomTensor({channels}, 31);
  g.initializers["mean"] = RandomTensor({channels}, 32);
  g.initializers["var"] = RandomTensor({channels}, 33, 0.5f, 2.0f);
}

// x -> convA -> BN -> maxpool ─┐
// x -> convB (stride 2) ───────┴─ concat -> + bias[C,1,1] -> 2 - v -> v / divisor[1,C,4,1] -> softmax(axis 1)
//                                    └──── global average pool -> flatten -> MatMul -> logits
Graph BranchyGraph() {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 4, 8, 8}}};
  g.initializers["wa"] = RandomTensor({16, 4, 3, 3}, 1, -0.3f, 0.3f);
  g.initializers["wb"] = RandomTensor({8, 4, 3, 3}, 2, -0.3f, 0.3f);
  AddBatchNorm(g, 16);
  g.initializers["bias"] = RandomTensor({24, 1, 1}, 3);
  g.initializers["two"] = Floats({}, {2.0f});
  g.initializers["divisor"] = RandomTensor({1, 24, 4, 1}, 4, 1.0f, 2.0f);
  g.initializers["proj"] = RandomTensor({24, 5}, 5);
  ops::PoolParams max;
  max.window.kernel = max.window.strides = {2, 2};
  ops::PoolParams gap;
  gap.kind = ops::PoolParams::Kind::kAverage;
  gap.global = true;
  AddNode(g, "conv_a", ops::Conv::Create(Padded(1, 1)), {"x", "wa"}, {"a"});
  AddNode(g, "bn", ops::BatchNorm::Create({}), {"a", "gamma", "beta", "mean", "var"}, {"a_bn"});
  AddNode(g, "pool", ops::Pool::Create(max), {"a_bn"}, {"a_pooled"});
  AddNode(g, "conv_b", ops::Conv::Create(Padded(1, 2)), {"x", "wb"}, {"b"});
  AddNode(g, "concat", ops::Concat::Create({.axis = 1}), {"a_pooled", "b"}, {"joined"});
  AddNode(g, "add", ops::Binary::Create({Kind::kAdd}), {"joined", "bias"}, {"shifted"});
  AddNode(g, "sub", ops::Binary::Create({Kind::kSub}), {"two", "shifted"}, {"flipped"});
  AddNode(g, "div", ops::Binary::Create({Kind::kDiv}), {"flipped", "divisor"}, {"scaled"});
  AddNode(g, "softmax", ops::Softmax::Create({.axis = 1}), {"scaled"}, {"probabilities"});
  AddNode(g, "gap", ops::Pool::Create(gap), {"joined"}, {"pooled"});
  AddNode(g, "flatten", ops::Flatten::Create({}), {"pooled"}, {"features"});
  AddNode(g, "matmul", ops::MatMul::Create(), {"features", "proj"}, {"logits"});
  g.outputs = {{"probabilities", DataType::kFloat32, {}}, {"logits", DataType::kFloat32, {}}};
  return g;
}

class LayoutsTest : public ::testing::TestWithParam<std::tuple<int64_t, bool>> {};

TEST_P(LayoutsTest, BranchyGraphMatchesReference) {
  const auto [batch, optimize] = GetParam();
  const Graph g = BranchyGraph();
  const std::vector<Tensor> inputs = {RandomTensor({batch, 4, 8, 8}, 9)};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, inputs));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(g, inputs, optimize));
  ASSERT_EQ(2u, actual.size());
  EXPECT_TRUE(TensorsNear(expected[0], actual[0]));
  EXPECT_TRUE(TensorsNear(expected[1], actual[1]));
}

INSTANTIATE_TEST_SUITE_P(Batches, LayoutsTest, ::testing::Combine(::testing::Values(1, 5), ::testing::Bool()),
                         [](const auto& info) {
                           return "Batch" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_Optimized" : "_Unoptimized");
                         });

TEST(LayoutsTest, GraphInputAsOutputAndReshapedInput) {
  // Outputs that are the input itself and a view of it: external buffers and their aliases bound per run.
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 3, 2, 2}}};
  AddNode(g, "flatten", ops::Flatten::Create({}), {"x"}, {"flat"});
  g.outputs = {{"x", DataType::kFloat32, {}}, {"flat", DataType::kFloat32, {}}};
  for (int64_t batch : {2, 3}) {
    const Tensor x = RandomTensor({batch, 3, 2, 2}, static_cast<uint32_t>(batch));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto out, RunSession(g, {x}));
    EXPECT_TRUE(TensorsNear(x, out[0]));
    EXPECT_TRUE(TensorsNear(x.Reshaped({batch, 12}).value(), out[1]));
  }
}

}  // namespace
}  // namespace fovea::engine::testing
