// Fine-tuning's pieces: finding a source model's final fully connected layer, the frozen backbone layer, and the
// export that replaces only that layer (checked against the arithmetic it must compute).

#include "trainer/finetune.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/session.h"
#include "modelio/onnx_export.h"
#include "modelio/onnx_import.h"

namespace fovea::trainer {
namespace {

using engine::localization::FindFinalLayer;
using ::testing::HasSubstr;

engine::Tensor Random(const engine::Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> values(static_cast<size_t>(engine::NumElements(shape)));
  for (float& v : values) v = normal(rng);
  return engine::Tensor::FromFloats(shape, values);
}

// conv 3x3 (2 → 4 channels) → GAP → Flatten → `head` → Softmax: a classifier of 5 classes on 2x6x6 images, the head
// being "gemm", "matmul+add" or "conv" (a 1x1 convolution before the pooling, as SqueezeNet's).
std::string Classifier(const std::string& head) {
  modelio::ExportGraph g;
  g.inputs.push_back({"image", engine::DataType::kFloat32, {-1, 2, 6, 6}});
  g.outputs.push_back({"probabilities", engine::DataType::kFloat32, {-1, 5}});
  g.initializers["conv.w"] = Random({4, 2, 3, 3}, 1);
  g.nodes.push_back({"Conv", "conv", {"image", "conv.w"}, {"conv"}, {{"pads", std::vector<int64_t>{1, 1, 1, 1}}}});
  std::string pooled_input = "conv";
  if (head == "conv") {
    g.initializers["scores.w"] = Random({5, 4, 1, 1}, 2);
    g.nodes.push_back({"Conv", "scores", {"conv", "scores.w"}, {"scores"}, {}});
    pooled_input = "scores";
  }
  g.nodes.push_back({"GlobalAveragePool", "gap", {pooled_input}, {"gap"}, {}});
  g.nodes.push_back({"Flatten", "flat", {"gap"}, {"flat"}, {{"axis", int64_t{1}}}});
  std::string logits = "flat";
  if (head == "gemm") {
    g.initializers["fc.w"] = Random({5, 4}, 3);
    g.initializers["fc.b"] = Random({5}, 4);
    g.nodes.push_back({"Gemm", "fc", {"flat", "fc.w", "fc.b"}, {"logits"}, {{"transB", int64_t{1}}}});
    logits = "logits";
  } else if (head == "matmul+add") {
    g.initializers["fc.w"] = Random({4, 5}, 3);
    g.initializers["fc.b"] = Random({5}, 4);
    g.nodes.push_back({"MatMul", "fc", {"flat", "fc.w"}, {"product"}, {}});
    g.nodes.push_back({"Add", "fc_bias", {"product", "fc.b"}, {"logits"}, {}});
    logits = "logits";
  }
  g.nodes.push_back({"Softmax", "softmax", {logits}, {"probabilities"}, {{"axis", int64_t{1}}}});
  engine::ModelMetadata metadata;
  metadata.labels = {"a", "b", "c", "d", "e"};
  metadata.mean = {0.5f, 0.25f};
  metadata.std = {2.0f, 4.0f};
  metadata.properties["fovea.train.seed"] = "7";
  metadata.properties["user.note"] = "kept";
  return modelio::ExportOnnx(g, metadata).value();
}

std::string WriteTemporary(const std::string& bytes, const std::string& name) {
  const std::string path = (std::filesystem::temp_directory_path() / name).string();
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(FindFinalLayer, GemmOfTheBundledModel) {
  std::ifstream in(FOVEA_BUNDLED_MODEL, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto imported = modelio::ImportOnnx(bytes);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto layer = FindFinalLayer(imported->graph);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(layer->features, "classifier.flatten");
  EXPECT_EQ(layer->logits, "classifier");
  EXPECT_EQ(layer->layer_outputs, std::vector<std::string>{"classifier"});
  EXPECT_EQ(layer->class_outputs, std::vector<std::string>{"probabilities"});
}

TEST(FindFinalLayer, MatMulWithBiasIsOneLayer) {
  auto imported = modelio::ImportOnnx(Classifier("matmul+add"));
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto layer = FindFinalLayer(imported->graph);
  ASSERT_TRUE(layer.ok()) << layer.status().ToString();
  EXPECT_EQ(layer->features, "flat");
  EXPECT_EQ(layer->logits, "logits");
  EXPECT_EQ(layer->layer_outputs, (std::vector<std::string>{"product", "logits"}));
}

TEST(FindFinalLayer, ScoresFromAConvolutionAreRefusedNamingTheNode) {
  auto imported = modelio::ImportOnnx(Classifier("conv"));
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  auto layer = FindFinalLayer(imported->graph);
  ASSERT_FALSE(layer.ok());
  EXPECT_EQ(layer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(layer.status().message(), HasSubstr("final fully connected layer"));
  EXPECT_THAT(layer.status().message(), HasSubstr("'flat'"));
}

TEST(FrozenBackbone, MustBeTheFirstLayer) {
  const std::string path = WriteTemporary(Classifier("gemm"), "fovea_finetune_first.onnx");
  auto source = LoadFineTuneSource(path);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  LayerContext context{dnnl::engine(dnnl::engine::kind::cpu, 0), {}, true};
  context.stream = dnnl::stream(context.engine);
  auto layer = MakeFrozenLayer(source->backbone, PlainF32({2, 2, 6, 6}), true, context);
  ASSERT_FALSE(layer.ok());
  EXPECT_THAT(layer.status().message(), HasSubstr("must be the first layer"));
}

// For both head forms: the exported model computes softmax(W · backbone(x) + b) with the trained W and b, keeps
// every other initializer, the preprocessing and the user's metadata, and drops the source's training entries.
TEST(ExportFineTuned, ReplacesOnlyTheFinalLayer) {
  for (const std::string head : {"gemm", "matmul+add"}) {
    SCOPED_TRACE(head);
    const std::string path = WriteTemporary(Classifier(head), "fovea_finetune_export.onnx");
    auto source = LoadFineTuneSource(path);
    ASSERT_TRUE(source.ok()) << source.status().ToString();
    EXPECT_EQ(source->backbone.features, 4);
    EXPECT_EQ(source->input.channels, 2);
    auto network = Network::CreateOnFrozenBackbone(source->backbone, source->input, 3, 5);
    ASSERT_TRUE(network.ok()) << network.status().ToString();
    Parameter* bias = (*network)->parameters().Find("classifier.bias");
    bias->value = {0.1f, -0.2f, 0.3f};
    const Normalization normalization{source->metadata.mean, source->metadata.std};
    const engine::ModelMetadata metadata = FineTunedMetadata(*source, {"x", "y", "z"}, normalization);
    auto bytes = ExportFineTuned(*source, **network, metadata);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    auto tuned = modelio::ImportOnnx(*bytes);
    ASSERT_TRUE(tuned.ok()) << tuned.status().ToString();
    EXPECT_EQ(tuned->metadata.labels, (std::vector<std::string>{"x", "y", "z"}));
    EXPECT_EQ(tuned->metadata.mean, (std::vector<float>{0.5f, 0.25f}));
    EXPECT_EQ(tuned->metadata.properties.count("fovea.train.seed"), 0u);
    EXPECT_EQ(tuned->metadata.properties.at("user.note"), "kept");
    EXPECT_EQ(tuned->graph.initializers.count("fc.w"), 0u);
    ASSERT_EQ(tuned->graph.initializers.count("conv.w"), 1u);
    const auto reimported = modelio::ImportOnnx(source->bytes);
    const auto original = reimported->graph.initializers.at("conv.w").floats();
    const auto kept = tuned->graph.initializers.at("conv.w").floats();
    EXPECT_TRUE(std::equal(original.begin(), original.end(), kept.begin(), kept.end()));

    // Expected: the backbone's features through the new layer, computed here.
    const engine::Tensor image = Random({1, 2, 6, 6}, 9);
    auto backbone = engine::Session::Create(source->backbone.model);
    const engine::Tensor feature_tensor = (*backbone)->Run({&image, 1})->front();
    const std::span<const float> features = feature_tensor.floats();
    const Parameter* weight = (*network)->parameters().Find("classifier.weight");
    std::vector<double> logits(3);
    double total = 0;
    for (size_t k = 0; k < 3; ++k) {
      logits[k] = bias->value[k];
      for (size_t f = 0; f < 4; ++f) logits[k] += weight->value[k * 4 + f] * features[f];
      total += std::exp(logits[k]);
    }
    auto model = engine::Model::Create(tuned->graph, tuned->metadata);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    auto probabilities = (*engine::Session::Create(*model))->Run({&image, 1});
    ASSERT_TRUE(probabilities.ok()) << probabilities.status().ToString();
    ASSERT_EQ(probabilities->front().shape(), (engine::Shape{1, 3}));
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_NEAR(probabilities->front().floats()[k], std::exp(logits[k]) / total, 1e-6) << k;
    }
  }
}

// The second phase rebuilds a fovea-train source from its architecture: backbone weights and statistics from the file,
// the new layer from the first phase, the backbone's learning rate scaled. A source without an architecture is
// refused, naming the way out.
TEST(UnfrozenNetwork, RebuildsAFoveaTrainSourceAndRefusesOthers) {
  auto source = LoadFineTuneSource(FOVEA_BUNDLED_MODEL);
  ASSERT_TRUE(source.ok()) << source.status().ToString();
  auto head = Network::CreateOnFrozenBackbone(source->backbone, source->input, 3, 1);
  ASSERT_TRUE(head.ok());
  auto whole = UnfrozenNetwork(*source, **head, 0.25f, 1);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ((*whole)->num_classes(), 3);
  const auto reimported = modelio::ImportOnnx(source->bytes);
  const auto expected = reimported->graph.initializers.at("bn3.running_var").floats();
  const Parameter* loaded = (*whole)->parameters().Find("bn3.running_var");
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), loaded->value.begin(), loaded->value.end()));
  EXPECT_EQ((*whole)->parameters().Find("conv1.weight")->lr_scale, 0.25f);
  EXPECT_EQ((*whole)->parameters().Find("classifier.weight")->lr_scale, 1.0f);
  EXPECT_EQ((*whole)->parameters().Find("classifier.weight")->value,
            (*head)->parameters().Find("classifier.weight")->value);

  const std::string path = WriteTemporary(Classifier("gemm"), "fovea_finetune_unfreeze.onnx");
  auto foreign = LoadFineTuneSource(path);
  ASSERT_TRUE(foreign.ok());
  auto foreign_head = Network::CreateOnFrozenBackbone(foreign->backbone, foreign->input, 3, 1);
  auto refused = UnfrozenNetwork(*foreign, **foreign_head, 0.1f, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("fovea.train.architecture"));
  EXPECT_THAT(refused.status().message(), HasSubstr("head-only"));
}

}  // namespace
}  // namespace fovea::trainer
