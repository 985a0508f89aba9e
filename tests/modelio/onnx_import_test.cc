// ImportOnnx / LoadOnnxModel: a small CNN runs like its reference, and hostile or unsupported files are errors.

#include "modelio/onnx_import.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "engine/session.h"
#include "tests/modelio/onnx_builder.h"

namespace fovea::modelio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::OnnxBuilder;
using testing::RandomTensor;

constexpr int64_t kChannels = 3, kFeatures = 4, kClasses = 5, kSide = 8;
constexpr float kTolerance = 1e-4f;

// Conv → BatchNormalization → Relu → MaxPool → GlobalAveragePool → Flatten → Gemm → Softmax, batch size free.
OnnxBuilder TinyCnn() {
  OnnxBuilder b(13);
  b.Input("image", {-1, kChannels, kSide, kSide}).Output("probabilities", {-1, kClasses});
  b.Initializer("conv.w", RandomTensor({kFeatures, kChannels, 3, 3}, 1));
  b.Initializer("conv.b", RandomTensor({kFeatures}, 2));
  b.Initializer("bn.scale", RandomTensor({kFeatures}, 3));
  b.Initializer("bn.bias", RandomTensor({kFeatures}, 4));
  b.Initializer("bn.mean", RandomTensor({kFeatures}, 5));
  b.Initializer("bn.var", engine::Tensor::FromFloats({kFeatures}, std::vector<float>{0.5f, 1.0f, 1.5f, 2.0f}));
  b.Initializer("fc.w", RandomTensor({kClasses, kFeatures}, 6));
  b.Initializer("fc.b", RandomTensor({kClasses}, 7));
  auto& conv = b.Node("Conv", {"image", "conv.w", "conv.b"}, {"c1"}, "conv1");
  testing::SetInts(conv, "pads", {1, 1, 1, 1});
  b.Node("BatchNormalization", {"c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {"b1"}, "bn1");
  b.Node("Relu", {"b1"}, {"r1"}, "relu1");
  auto& pool = b.Node("MaxPool", {"r1"}, {"p1"}, "pool1");
  testing::SetInts(pool, "kernel_shape", {2, 2});
  testing::SetInts(pool, "strides", {2, 2});
  b.Node("GlobalAveragePool", {"p1"}, {"g1"}, "gap");
  b.Node("Flatten", {"g1"}, {"f1"}, "flatten");
  auto& gemm = b.Node("Gemm", {"f1", "fc.w", "fc.b"}, {"logits"}, "fc");
  testing::SetInt(gemm, "transB", 1);
  b.Node("Softmax", {"logits"}, {"probabilities"}, "softmax");
  return b;
}

void ExpectNear(const engine::Tensor& actual, const engine::Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  for (int64_t i = 0; i < expected.num_elements(); ++i) {
    EXPECT_NEAR(actual.data<float>()[i], expected.data<float>()[i], kTolerance) << "element " << i;
  }
}

TEST(OnnxImportTest, TinyCnnRunsLikeItsReference) {
  auto imported = ImportOnnx(TinyCnn().Bytes());
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->opset, 13);
  ASSERT_EQ(imported->graph.inputs.size(), 1u);
  EXPECT_EQ(imported->graph.inputs[0].shape, (engine::Shape{-1, kChannels, kSide, kSide}));
  EXPECT_EQ(imported->graph.initializers.size(), 8u);
  EXPECT_EQ(imported->graph.nodes.size(), 8u);
  const engine::Graph reference_graph = imported->graph;
  auto model = engine::Model::Create(std::move(imported->graph), std::move(imported->metadata));
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto session = engine::Session::Create(*model);
  ASSERT_TRUE(session.ok());
  for (int64_t batch : {1, 3}) {
    const std::vector<engine::Tensor> input = {RandomTensor({batch, kChannels, kSide, kSide}, 42)};
    auto expected = engine::RunReference(reference_graph, input);
    ASSERT_TRUE(expected.ok()) << expected.status().ToString();
    auto actual = (*session)->Run(input);
    ASSERT_TRUE(actual.ok()) << actual.status().ToString();
    ExpectNear((*actual)[0], (*expected)[0]);
  }
}

TEST(OnnxImportTest, LoadOnnxModelReadsAFile) {
  const auto path = std::filesystem::temp_directory_path() / "fovea_modelio_tiny_cnn.onnx";
  std::ofstream(path, std::ios::binary) << TinyCnn().Bytes();
  auto model = LoadOnnxModel(path.string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ((*model)->graph().inputs[0].name, "image");
  std::filesystem::remove(path);
}

TEST(OnnxImportTest, InitializerListedAsInputIsNotARuntimeInput) {
  OnnxBuilder b(9);
  b.Input("x", {1, 4}).Input("bias", {4}).Output("y", {1, 4});
  b.Initializer("bias", RandomTensor({4}, 1));
  b.Node("Add", {"x", "bias"}, {"y"});
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_EQ(imported->graph.inputs.size(), 1u);
  EXPECT_EQ(imported->graph.inputs[0].name, "x");
}

TEST(OnnxImportTest, ConstantNodesBecomeInitializers) {
  OnnxBuilder b(13);
  b.Input("x", {2, 6}).Output("y", {3, 4});
  auto& shape = b.Node("Constant", {}, {"shape"});
  testing::SetInts(shape, "value_ints", {3, 4});
  auto& scale = b.Node("Constant", {}, {"scale"});
  testing::SetFloat(scale, "value_float", 2.0f);
  b.Node("Reshape", {"x", "shape"}, {"r"});
  b.Node("Mul", {"r", "scale"}, {"y"});
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_TRUE(imported->graph.initializers.contains("shape"));
  EXPECT_EQ(imported->graph.initializers.at("shape").dtype(), engine::DataType::kInt64);
  EXPECT_EQ(imported->graph.initializers.at("scale").rank(), 0);
  EXPECT_EQ(imported->graph.nodes.size(), 2u);
  const engine::Tensor x = RandomTensor({2, 6}, 3);
  auto y = engine::RunReference(imported->graph, std::vector<engine::Tensor>{x});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  EXPECT_EQ((*y)[0].shape(), (engine::Shape{3, 4}));
  EXPECT_FLOAT_EQ((*y)[0].data<float>()[5], 2.0f * x.data<float>()[5]);
}

TEST(OnnxImportTest, UnsupportedOpNamesNodeOpAndSupportedList) {
  OnnxBuilder b(13);
  b.Input("x", {1, 2, 3}).Output("y", {1, 2, 3});
  b.Node("Sinh", {"x"}, {"y"}, "hyperbolic");
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(imported.status().message(), HasSubstr("node 'hyperbolic' (Sinh): unsupported op"));
  EXPECT_THAT(imported.status().message(), HasSubstr("supported ops: Abs, Add, And"));
  EXPECT_THAT(imported.status().message(), HasSubstr("Conv"));
}

TEST(OnnxImportTest, NonFloatRuntimeInputIsUnimplemented) {
  OnnxBuilder b(13);
  b.Input("x", {1, 4}, onnx::TensorProto::INT32).Output("y", {1, 4}, onnx::TensorProto::INT32);
  b.Node("Identity", {"x"}, {"y"});
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(imported.status().message(), HasSubstr("graph input 'x' is INT32"));
}

TEST(OnnxImportTest, UnsupportedInitializerDtypeIsNamed) {
  OnnxBuilder b(13);
  b.Input("x", {1, 2}).Output("y", {1, 2});
  auto& weights = *b.proto().mutable_graph()->add_initializer();
  weights.set_name("w16");
  weights.set_data_type(onnx::TensorProto::FLOAT16);
  weights.add_dims(2);
  weights.set_raw_data(std::string(4, '\0'));
  b.Node("Add", {"x", "w16"}, {"y"});
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_THAT(imported.status().message(), HasSubstr("'w16'"));
  EXPECT_THAT(imported.status().message(), HasSubstr("FLOAT16"));
}

TEST(OnnxImportTest, TruncatedFileIsAnError) {
  const std::string bytes = TinyCnn().Bytes();
  for (size_t keep : {bytes.size() / 2, bytes.size() - 1, size_t{3}}) {
    auto imported = ImportOnnx(std::string_view(bytes).substr(0, keep));
    ASSERT_FALSE(imported.ok()) << "kept " << keep << " of " << bytes.size() << " bytes";
    EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument) << "kept " << keep;
    EXPECT_THAT(imported.status().message(), HasSubstr("not an ONNX model")) << "kept " << keep;
  }
}

TEST(OnnxImportTest, GarbageBytesAreAnError) {
  std::mt19937 generator(7);
  for (int trial = 0; trial < 20; ++trial) {
    std::string garbage(1000, '\0');
    for (char& c : garbage) c = static_cast<char>(generator());
    auto imported = ImportOnnx(garbage);
    ASSERT_FALSE(imported.ok()) << "trial " << trial;
    EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument) << "trial " << trial;
    EXPECT_THAT(imported.status().message(), HasSubstr("not an ONNX model")) << "trial " << trial;
  }
  auto empty = ImportOnnx("");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(empty.status().message(), HasSubstr("model file is empty"));
}

TEST(OnnxImportTest, CorruptedBytesNeverCrash) {
  const std::string original = TinyCnn().Bytes();
  std::mt19937 generator(11);
  constexpr int kTrials = 300, kFlipsPerTrial = 4;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::string bytes = original;
    for (int flip = 0; flip < kFlipsPerTrial; ++flip) {
      bytes[generator() % bytes.size()] ^= static_cast<char>(1 << (generator() % 8));
    }
    auto imported = ImportOnnx(bytes);
    // A flip inside a weight leaves a valid model; anything else must be reported, with a reason.
    if (!imported.ok()) {
      EXPECT_FALSE(imported.status().message().empty()) << "trial " << trial;
    }
  }
}

TEST(OnnxImportTest, WrongRawByteCountIsAnError) {
  OnnxBuilder b(13);
  b.Input("x", {1, 4}).Output("y", {1, 4});
  b.Initializer("bias", RandomTensor({4}, 1));
  b.proto().mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(12);
  b.Node("Add", {"x", "bias"}, {"y"});
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr("tensor 'bias' has 12 bytes of raw_data"));
}

TEST(OnnxImportTest, AbsurdDimsAreRejectedWithoutAllocating) {
  for (const std::vector<int64_t>& dims : {std::vector<int64_t>{int64_t{1} << 40, int64_t{1} << 40},
                                           std::vector<int64_t>{-4, 1}, std::vector<int64_t>{INT64_MAX, 2}}) {
    OnnxBuilder b(13);
    b.Input("x", {1, 4}).Output("y", {1, 4});
    auto& huge = *b.proto().mutable_graph()->add_initializer();
    huge.set_name("huge");
    huge.set_data_type(onnx::TensorProto::FLOAT);
    for (int64_t d : dims) huge.add_dims(d);
    huge.set_raw_data(std::string(16, '\0'));
    b.Node("Add", {"x", "huge"}, {"y"});
    auto imported = ImportOnnx(b.Bytes());
    ASSERT_FALSE(imported.ok());
    EXPECT_THAT(imported.status().message(), HasSubstr("tensor 'huge' has"));
  }
}

TEST(OnnxImportTest, OpsetOutOfRangeIsNamed) {
  for (int64_t opset : {5, 18}) {  // just outside the supported range, 6 to 17
    OnnxBuilder b(opset);
    b.Input("x", {1, 4}).Output("y", {1, 4});
    b.Node("Relu", {"x"}, {"y"});
    auto imported = ImportOnnx(b.Bytes());
    ASSERT_FALSE(imported.ok()) << "opset " << opset;
    EXPECT_THAT(imported.status().message(), HasSubstr("opset " + std::to_string(opset)));
  }
}

TEST(OnnxImportTest, FileOverTheSizeLimitIsRejected) {
  const std::string bytes = TinyCnn().Bytes();
  ImportLimits limits;
  limits.max_file_bytes = bytes.size() - 1;
  auto imported = ImportOnnx(bytes, limits);
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kResourceExhausted);

  const auto path = std::filesystem::temp_directory_path() / "fovea_modelio_too_big.onnx";
  std::ofstream(path, std::ios::binary) << bytes;
  auto loaded = LoadOnnxModel(path.string(), {}, limits);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(loaded.status().message(), HasSubstr(path.string()));
  std::filesystem::remove(path);
}

TEST(OnnxImportTest, TensorOverTheElementLimitIsRejected) {
  ImportLimits limits;
  limits.max_tensor_elements = 10;
  auto imported = ImportOnnx(TinyCnn().Bytes(), limits);
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(imported.status().message(), HasSubstr("conv.w"));
}

TEST(OnnxImportTest, GraphOverTheNodeLimitIsRejected) {
  ImportLimits limits;
  limits.max_nodes = 7;
  auto imported = ImportOnnx(TinyCnn().Bytes(), limits);
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(imported.status().message(), HasSubstr("8 nodes"));
}

TEST(OnnxImportTest, HugeConstantAttributeIsRejected) {
  OnnxBuilder b(13);
  b.Input("x", {1, 4}).Output("y", {1, 4});
  auto& constant = b.Node("Constant", {}, {"c"}, "huge_constant");
  auto* value = constant.add_attribute();
  value->set_name("value");
  value->set_type(onnx::AttributeProto::TENSOR);
  value->mutable_t()->set_data_type(onnx::TensorProto::FLOAT);
  value->mutable_t()->add_dims(int64_t{1} << 40);
  value->mutable_t()->add_dims(int64_t{1} << 40);
  value->mutable_t()->set_raw_data(std::string(8, '\0'));
  b.Node("Add", {"x", "c"}, {"y"});
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(imported.status().message(), HasSubstr("node 'huge_constant' (Constant): attribute 'value'"));
}

TEST(OnnxImportTest, MissingFileIsNotFound) {
  auto loaded = LoadOnnxModel("/nonexistent/fovea/model.onnx");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), StatusCode::kNotFound);
}

TEST(OnnxImportTest, CheckerErrorsAreInvalidArgument) {
  OnnxBuilder b(13);
  b.Input("x", {1, 4}).Output("y", {1, 4});
  b.Node("Relu", {"x", "x"}, {"y"}, "two_inputs");  // Relu takes exactly one input
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr("ONNX checker"));
}

TEST(OnnxImportTest, EightBitTensorOutsideQuantizationIsUnimplemented) {
  OnnxBuilder b(13);
  b.Input("x", {1, 4}).Output("y", {1, 4});
  b.Initializer("bytes", engine::Tensor(engine::DataType::kUint8, {1, 4}));
  b.Node("Add", {"x", "bytes"}, {"y"}, "add_bytes");
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(imported.status().message(), HasSubstr("node 'add_bytes' (Add) reads the 8-bit tensor 'bytes'"));
}

TEST(OnnxImportTest, QuantizeDequantizeRoundTripRuns) {
  OnnxBuilder b(13);
  b.Input("x", {1, 4}).Output("y", {1, 4});
  b.Initializer("scale", engine::Tensor::FromFloats({}, std::vector<float>{0.5f}));
  b.Initializer("zero", engine::Tensor(engine::DataType::kInt8, {}));
  b.Node("QuantizeLinear", {"x", "scale", "zero"}, {"xq"}, "q");
  b.Node("DequantizeLinear", {"xq", "scale", "zero"}, {"y"}, "dq");
  auto model = ImportOnnx(b.Bytes());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto built = engine::Model::Create(std::move(model->graph), model->metadata);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  auto session = engine::Session::Create(*built);
  ASSERT_TRUE(session.ok());
  const engine::Tensor x = engine::Tensor::FromFloats({1, 4}, std::vector<float>{0.3f, -1.0f, 100.0f, 0.75f});
  auto y = (*session)->Run(std::vector<engine::Tensor>{x});
  ASSERT_TRUE(y.ok()) << y.status().ToString();
  // 0.3 → 0.5 (round 0.6 → 1), -1 exact, 100 saturates at 127 → 63.5, 0.75 → 1.5 → 2 (half to even) → 1.0.
  EXPECT_THAT((*y)[0].floats(), ElementsAre(0.5f, -1.0f, 63.5f, 1.0f));
}

}  // namespace
}  // namespace fovea::modelio
