// Quantization: the QuantizeLinear/DequantizeLinear formula, their oneDNN reorders against the reference kernels,
// the int8 convolution against dequantize → float conv → quantize, the QDQ fusion passes, and bf16 plans.

#include <gtest/gtest.h>

#include "engine/cpu_features.h"

#include "engine/model.h"
#include "engine/ops/activation.h"
#include "engine/ops/conv.h"
#include "engine/ops/pool.h"
#include "engine/ops/quantize.h"
#include "engine/ops/quantized_conv.h"
#include "engine/passes.h"
#include "engine/session.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

constexpr int64_t kChannels = 32;  // enough input channels for oneDNN's int8 and bf16 kernels
constexpr float kInputScale = 1.0f / 64;
constexpr float kOutputScale = 1.0f / 16;
// bf16 keeps 8 significant bits: a 3x3x32 dot product of unit-range values lands within about 1% of float32.
constexpr float kBf16Tolerance = 3e-2f;
// One quantization step of the int8 graph's intermediate values can move the float output by about this much.
constexpr float kQdqGraphTolerance = 0.05f;

Tensor Uint8s(const Shape& shape, std::vector<uint8_t> values) {
  Tensor t(DataType::kUint8, shape);
  std::copy(values.begin(), values.end(), t.data<uint8_t>());
  return t;
}

Tensor Scalar(float v) { return Floats({}, {v}); }

Tensor ZeroPoint(DataType type) { return Tensor(type, {}); }

// Symmetric int8 weights in [-127, 127] from a seeded generator.
Tensor RandomInt8(const Shape& shape, uint32_t seed) {
  const Tensor f = RandomTensor(shape, seed, -127.0f, 127.0f);
  Tensor q(DataType::kInt8, shape);
  for (int64_t i = 0; i < f.num_elements(); ++i) q.data<int8_t>()[i] = static_cast<int8_t>(f.data<float>()[i]);
  return q;
}

ops::ConvParams PaddedConv3x3() {
  ops::ConvParams p;
  p.window.pads_begin = p.window.pads_end = {1, 1};
  return p;
}

TEST(Quantize, RoundsHalfToEvenAndSaturates) {
  EXPECT_EQ(2, ops::QuantizeValue(3.0f, 2.0f, 0, DataType::kUint8));   // 1.5 → 2
  EXPECT_EQ(2, ops::QuantizeValue(5.0f, 2.0f, 0, DataType::kUint8));   // 2.5 → 2
  EXPECT_EQ(-2, ops::QuantizeValue(-5.0f, 2.0f, 0, DataType::kInt8));  // -2.5 → -2
  EXPECT_EQ(255, ops::QuantizeValue(1000.0f, 2.0f, 128, DataType::kUint8));
  EXPECT_EQ(0, ops::QuantizeValue(-1000.0f, 2.0f, 128, DataType::kUint8));
  EXPECT_EQ(-128, ops::QuantizeValue(-1000.0f, 1.0f, 0, DataType::kInt8));
  EXPECT_EQ(127, ops::QuantizeValue(1000.0f, 1.0f, 0, DataType::kInt8));
}

TEST(Quantize, PerAxisScalesAndZeroPoints) {
  // ONNX's QuantizeLinear axis example: x [1, 3, 2], scale and zero point per channel.
  const Tensor x = Floats({1, 3, 2}, {-162, 10, -298, 6, -234, 12});
  const Tensor scale = Floats({3}, {2, 4, 3});
  const Tensor zero_point = Uint8s({3}, {84, 24, 196});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto q, ops::QuantizeLinear::Create({.axis = 1}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto y, q->Reference(std::vector<Tensor>{x, scale, zero_point}));
  const std::vector<uint8_t> expected = {3, 89, 0, 26, 118, 200};
  ASSERT_EQ(DataType::kUint8, y[0].dtype());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(expected[i], y[0].data<uint8_t>()[i]) << i;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto dq, ops::DequantizeLinear::Create({.axis = 1}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto back, dq->Reference(std::vector<Tensor>{y[0], scale, zero_point}));
  // Round trip: exact here; element 2 (-298 / 4 + 24 < 0) saturates at 0, which dequantizes to -24 * 4.
  EXPECT_FLOAT_EQ(-162.0f, back[0].data<float>()[0]);
  EXPECT_FLOAT_EQ(-96.0f, back[0].data<float>()[2]);
}

TEST(Quantize, RejectsBadScalesAndZeroPoints) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto q, ops::QuantizeLinear::Create({}));
  const Tensor x = RandomTensor({2, 3}, 1);
  EXPECT_FALSE(q->Reference(std::vector<Tensor>{x, Scalar(0.0f)}).ok());
  EXPECT_FALSE(q->Reference(std::vector<Tensor>{x, Floats({2}, {1, 1})}).ok());         // axis 1 has 3 entries
  EXPECT_FALSE(q->Reference(std::vector<Tensor>{x, Scalar(1.0f), Scalar(0.0f)}).ok());  // float zero point
}

TEST(Quantize, ReordersMatchReferenceKernels) {
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> q, ops::QuantizeLinear::Create({}));
  const Tensor x = RandomTensor({2, kChannels, 5, 5}, 2, -3.0f, 3.0f);
  EXPECT_TRUE(EmitMatchesReference(q, {Runtime(x), Constant(Scalar(0.05f)), Constant(ZeroPoint(DataType::kInt8))}));
  Tensor zero_point(DataType::kUint8, {});
  zero_point.data<uint8_t>()[0] = 128;
  EXPECT_TRUE(EmitMatchesReference(q, {Runtime(x), Constant(Scalar(0.05f)), Constant(zero_point)}));

  // Q then DQ through the plan against the reference kernels.
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, kChannels, 5, 5}}};
  g.initializers = {{"s", Scalar(0.05f)}, {"z", zero_point}};
  AddNode(g, "q", ops::QuantizeLinear::Create({}), {"x", "s", "z"}, {"xq"});
  AddNode(g, "dq", ops::DequantizeLinear::Create({}), {"xq", "s", "z"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(g, {x}));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0], 0.05f * kQuantizedStepTolerance));
}

class QuantizedConvTest : public ::testing::TestWithParam<bool> {};

TEST_P(QuantizedConvTest, Int8ConvolutionMatchesDequantizedReference) {
  const bool quantized_output = GetParam();
  ops::QuantizedConvParams p;
  p.conv = PaddedConv3x3();
  p.conv.post_ops = {ops::ConvPostOp::Act({ops::ActivationKind::kRelu})};
  p.input_scale = kInputScale;
  for (int64_t m = 0; m < kChannels; ++m) p.weight_scales.push_back(1e-3f * static_cast<float>(m + 1));
  p.quantized_output = quantized_output;
  p.output_scale = kOutputScale;
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> conv, ops::QuantizedConv::Create(p));

  // The uint8 input comes from a QuantizeLinear of a float graph input, as in a model.
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, kChannels, 7, 7}}};
  g.initializers = {{"s", Scalar(kInputScale)},
                    {"z", ZeroPoint(DataType::kUint8)},
                    {"w", RandomInt8({kChannels, kChannels, 3, 3}, 3)},
                    {"b", RandomTensor({kChannels}, 4)}};
  AddNode(g, "q", ops::QuantizeLinear::Create({}), {"x", "s", "z"}, {"xq"});
  g.nodes.push_back({"conv", conv, {"xq", "w", "b"}, {"out"}});
  g.outputs = {{"out", quantized_output ? DataType::kUint8 : DataType::kFloat32, {}}};
  const Tensor x = RandomTensor({2, kChannels, 7, 7}, 5, 0.0f, 3.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(g, {x}));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0], 1e-3f));
}

INSTANTIATE_TEST_SUITE_P(Outputs, QuantizedConvTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Uint8Output" : "Float32Output"; });

// x → Q → DQ → Conv(DQ(w1), b1) → Relu → [Q → DQ →] MaxPool → Q → DQ → Conv(DQ(w2), b2) → out, the two layouts QDQ
// exporters write (`requantize_around_pool` is onnxruntime's, without it `fovea-train quantize`'s).
Graph QdqNetwork(bool requantize_around_pool) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, kChannels, 8, 8}}};
  g.initializers = {{"sx", Scalar(kInputScale)},
                    {"sy", Scalar(kOutputScale)},
                    {"z", ZeroPoint(DataType::kUint8)},
                    {"w1", RandomInt8({kChannels, kChannels, 3, 3}, 6)},
                    {"w2", RandomInt8({kChannels, kChannels, 3, 3}, 7)},
                    {"sw", RandomTensor({kChannels}, 8, 2e-4f, 1e-3f)},
                    {"zw", Tensor(DataType::kInt8, {kChannels})},
                    {"b1", RandomTensor({kChannels}, 9)},
                    {"b2", RandomTensor({kChannels}, 10)}};
  AddNode(g, "q0", ops::QuantizeLinear::Create({}), {"x", "sx", "z"}, {"xq"});
  AddNode(g, "dq0", ops::DequantizeLinear::Create({}), {"xq", "sx", "z"}, {"xd"});
  AddNode(g, "dqw1", ops::DequantizeLinear::Create({.axis = 0}), {"w1", "sw", "zw"}, {"w1d"});
  AddNode(g, "conv1", ops::Conv::Create(PaddedConv3x3()), {"xd", "w1d", "b1"}, {"c1"});
  AddNode(g, "relu1", ops::Activation::Create({ops::ActivationKind::kRelu}), {"c1"}, {"r1"});
  std::string pool_input = "r1";
  if (requantize_around_pool) {
    AddNode(g, "q1", ops::QuantizeLinear::Create({}), {"r1", "sy", "z"}, {"r1q"});
    AddNode(g, "dq1", ops::DequantizeLinear::Create({}), {"r1q", "sy", "z"}, {"r1d"});
    pool_input = "r1d";
  }
  ops::PoolParams pool;
  pool.window.kernel = pool.window.strides = {2, 2};
  AddNode(g, "pool", ops::Pool::Create(pool), {pool_input}, {"p"});
  AddNode(g, "q2", ops::QuantizeLinear::Create({}), {"p", "sy", "z"}, {"pq"});
  AddNode(g, "dq2", ops::DequantizeLinear::Create({}), {"pq", "sy", "z"}, {"pd"});
  AddNode(g, "dqw2", ops::DequantizeLinear::Create({.axis = 0}), {"w2", "sw", "zw"}, {"w2d"});
  AddNode(g, "conv2", ops::Conv::Create(PaddedConv3x3()), {"pd", "w2d", "b2"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  return g;
}

class QdqFusionTest : public ::testing::TestWithParam<bool> {};

TEST_P(QdqFusionTest, FusesIntoInt8ConvolutionsAndKeepsTheResult) {
  const Graph g = QdqNetwork(GetParam());
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(g, {}));
  EXPECT_TRUE(model->quantized());
  std::vector<std::string> types;
  for (const auto& node : model->graph().nodes) types.emplace_back(node.op->type());
  // Only the float input's quantization stays a separate step; the pool runs on the first conv's uint8 output.
  EXPECT_EQ((std::vector<std::string>{"QuantizeLinear", "QLinearConv", "MaxPool", "QLinearConv"}), types);
  const Tensor x = RandomTensor({2, kChannels, 8, 8}, 11, 0.0f, 3.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, session->Run(std::vector<Tensor>{x}));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0], kQdqGraphTolerance));
}

INSTANTIATE_TEST_SUITE_P(Layouts, QdqFusionTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "RequantizedPool" : "QuantizedConvInputs"; });

TEST(QdqFusion, DequantizedTwinIsFloatAndClose) {
  const Graph g = QdqNetwork(true);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(g, {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph twin, DequantizeGraph(model->graph()));
  std::vector<std::string> types;
  for (const auto& node : twin.nodes) types.emplace_back(node.op->type());
  EXPECT_EQ((std::vector<std::string>{"Conv", "MaxPool", "Conv"}), types);
  const Tensor x = RandomTensor({1, kChannels, 8, 8}, 16, 0.0f, 3.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(twin, {x}));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0], kQdqGraphTolerance));
}

TEST(QdqFusion, NonZeroZeroPointStaysUnfusedAndCorrect) {
  Graph g = QdqNetwork(false);
  Tensor z(DataType::kUint8, {});
  z.data<uint8_t>()[0] = 3;
  g.initializers["z"] = z;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(g, {}));
  for (const auto& node : model->graph().nodes) EXPECT_NE("QLinearConv", node.op->type());
  const Tensor x = RandomTensor({1, kChannels, 8, 8}, 12, 0.0f, 3.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, session->Run(std::vector<Tensor>{x}));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0], kQdqGraphTolerance));
}

TEST(Bf16, ConvNetworkStaysCloseToFloat32) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, kChannels, 8, 8}}};
  g.initializers = {{"w1", RandomTensor({kChannels, kChannels, 3, 3}, 13, -0.1f, 0.1f)},
                    {"w2", RandomTensor({kChannels, kChannels, 3, 3}, 14, -0.1f, 0.1f)}};
  ops::ConvParams relu_conv = PaddedConv3x3();
  relu_conv.post_ops = {ops::ConvPostOp::Act({ops::ActivationKind::kRelu})};
  ops::PoolParams pool;
  pool.window.kernel = pool.window.strides = {2, 2};
  AddNode(g, "conv1", ops::Conv::Create(relu_conv), {"x", "w1"}, {"c1"});
  AddNode(g, "pool", ops::Pool::Create(pool), {"c1"}, {"p"});
  AddNode(g, "conv2", ops::Conv::Create(PaddedConv3x3()), {"p", "w2"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  const Tensor x = RandomTensor({2, kChannels, 8, 8}, 15);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(g, {}, {.precision = Precision::kBf16}));
  EXPECT_EQ(Precision::kBf16, model->precision());
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, session->Run(std::vector<Tensor>{x}));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0], kBf16Tolerance));
  if (CpuSupportsBf16()) {
    EXPECT_FALSE(TensorsNear(expected[0], actual[0], 1e-6f)) << "bf16 rounding should be visible";
  } else {
    // oneDNN 2.6 has no bf16 convolution before AVX-512: the plan runs float32 (engine/cpu_features.h).
    EXPECT_TRUE(TensorsNear(expected[0], actual[0])) << "a CPU without bf16 must compute float32 exactly";
  }
}

TEST(Bf16, ParsesPrecisionNames) {
  EXPECT_EQ(Precision::kBf16, ParsePrecision("bf16").value());
  EXPECT_EQ(Precision::kFp32, ParsePrecision("fp32").value());
  EXPECT_FALSE(ParsePrecision("int4").ok());
  EXPECT_STREQ("bf16", PrecisionName(Precision::kBf16));
}

}  // namespace
}  // namespace fovea::engine::testing
