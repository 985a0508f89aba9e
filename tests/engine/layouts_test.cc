// A branchy graph whose values travel in the blocked layouts oneDNN picks for convolutions (BatchNorm, pooling,
// concat, broadcast arithmetic and softmax on them), through Session against the reference interpreter.

#include <gtest/gtest.h>

#include "engine/model.h"
#include "engine/ops/activation.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/matmul.h"
#include "engine/ops/pool.h"
#include "engine/ops/softmax.h"
#include "engine/session.h"
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

// Squeeze-excitation on a blocked map: x -> conv (20 channels: a partial last block) -> y; y -> global average pool ->
// 1x1 conv -> sigmoid -> s [N, 20, 1, 1]; y * s, then + a constant per-channel shift [1, 20, 1, 1]. Both broadcast
// operands are read in the map's blocked layout (binary.cc, Src1Desc), which takes oneDNN's jit kernel instead of its
// reference one.
Graph SqueezeExcitation() {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 3, 10, 10}}};
  g.initializers["w"] = RandomTensor({20, 3, 3, 3}, 51, -0.4f, 0.4f);
  g.initializers["w_se"] = RandomTensor({20, 20, 1, 1}, 52, -0.3f, 0.3f);
  g.initializers["shift"] = RandomTensor({1, 20, 1, 1}, 53);
  ops::PoolParams gap;
  gap.kind = ops::PoolParams::Kind::kAverage;
  gap.global = true;
  AddNode(g, "conv", ops::Conv::Create(Padded(1, 1)), {"x", "w"}, {"y"});
  AddNode(g, "gap", ops::Pool::Create(gap), {"y"}, {"pooled"});
  AddNode(g, "se_conv", ops::Conv::Create(Padded(0, 1)), {"pooled", "w_se"}, {"se"});
  AddNode(g, "sigmoid", ops::Activation::Create({.kind = ops::ActivationKind::kSigmoid}), {"se"}, {"scale"});
  AddNode(g, "excite", ops::Binary::Create({Kind::kMul}), {"y", "scale"}, {"excited"});
  AddNode(g, "shifted", ops::Binary::Create({Kind::kAdd}), {"excited", "shift"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  return g;
}

TEST(LayoutsTest, SqueezeExcitationOnABlockedMapMatchesReference) {
  const Graph g = SqueezeExcitation();
  for (int64_t batch : {1, 5}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const std::vector<Tensor> inputs = {RandomTensor({batch, 3, 10, 10}, 54)};
    FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, inputs));
    for (bool optimize : {false, true}) {
      FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(g, inputs, optimize));
      ASSERT_EQ(1u, actual.size());
      EXPECT_TRUE(TensorsNear(expected[0], actual[0])) << (optimize ? "optimized" : "unoptimized");
    }
  }
}

// x[1 channel] -> stem conv (3x3, ReLU) -> conv (16 -> 16, 3x3: Winograd) -> y; optionally the stem's output is also
// a graph output, a reader with no layout preference.
Graph StemThenWinograd(bool stem_output_also_read) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 1, 12, 12}}};
  g.initializers["w_stem"] = RandomTensor({16, 1, 3, 3}, 41, -0.5f, 0.5f);
  g.initializers["b_stem"] = RandomTensor({16}, 42);
  g.initializers["w"] = RandomTensor({16, 16, 3, 3}, 43, -0.2f, 0.2f);
  ops::ConvParams stem = Padded(1, 1);
  stem.post_ops = {ops::ConvPostOp::Act({.kind = ops::ActivationKind::kRelu})};
  AddNode(g, "stem", ops::Conv::Create(stem), {"x", "w_stem", "b_stem"}, {"s"});
  AddNode(g, "conv", ops::Conv::Create(Padded(1, 1)), {"s", "w"}, {"y"});
  g.outputs = {{"y", DataType::kFloat32, {}}};
  if (stem_output_also_read) g.outputs.push_back({"s", DataType::kFloat32, {}});
  return g;
}

TEST(LayoutsTest, ProducerWritesTheLayoutWinogradReads) {
  // oneDNN 2.6 has Winograd convolution on AVX-512 only; elsewhere both convolutions are direct.
  if (static_cast<int>(dnnl::get_effective_cpu_isa()) < static_cast<int>(dnnl::cpu_isa::avx512_core)) {
    GTEST_SKIP() << "no AVX-512: no Winograd convolution in oneDNN";
  }
  for (bool also_read : {false, true}) {
    SCOPED_TRACE(also_read ? "stem output also a graph output" : "stem output read by the Winograd conv only");
    const Graph g = StemThenWinograd(also_read);
    const std::vector<Tensor> inputs = {RandomTensor({4, 1, 12, 12}, 44)};
    FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, inputs));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(g, inputs));
    ASSERT_EQ(g.outputs.size(), actual.size());
    for (size_t i = 0; i < actual.size(); ++i) EXPECT_TRUE(TensorsNear(expected[i], actual[i]));

    FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(g, {}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
    const Shape input = inputs[0].shape();
    FOVEA_ASSERT_OK_AND_ASSIGN(auto plan, session->PlanFor(std::span<const Shape>(&input, 1)));
    // Two convolutions and a reorder to plain per graph output, with no reorder between the convolutions when
    // the Winograd convolution is the stem's only reader. A second reader leaves the stem's layout to oneDNN
    // (nhwc here), which costs the reorder into Winograd's nChw16c.
    EXPECT_EQ(also_read ? 5u : 3u, plan->num_steps());
  }
}

}  // namespace
}  // namespace fovea::engine::testing
