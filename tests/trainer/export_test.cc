// The ONNX export: the graph the trainer writes (BatchNormalization kept for the engine to fold, a Softmax output,
// fovea.* metadata) and the checker rejecting a broken graph.

#include <gtest/gtest.h>

#include "modelio/onnx_import.h"
#include "trainer/export.h"

namespace fovea::trainer {
namespace {

std::vector<std::string> OpTypes(const modelio::ExportGraph& graph) {
  std::vector<std::string> types;
  for (const auto& node : graph.nodes) types.push_back(node.op_type);
  return types;
}

TEST(Export, GraphMirrorsTheNetwork) {
  auto network = Network::Create("c8,p,gap", {1, 12, 12}, 3, 1);
  ASSERT_TRUE(network.ok());
  auto graph = BuildExportGraph(**network);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  EXPECT_EQ(OpTypes(*graph), (std::vector<std::string>{"Conv", "BatchNormalization", "Relu", "MaxPool",
                                                       "GlobalAveragePool", "Flatten", "Gemm", "Softmax"}));
  EXPECT_EQ(graph->inputs[0].shape, (engine::Shape{-1, 1, 12, 12}));
  EXPECT_EQ(graph->initializers.at("classifier.weight").shape(), (engine::Shape{3, 8}));
  EXPECT_EQ(graph->initializers.at("bn1.running_var").shape(), (engine::Shape{8}));
}

TEST(Export, ResidualBlocksBecomeBranchesAddAndRelu) {
  auto network = Network::Create("c4,r4,r8s2", {1, 8, 8}, 3, 1);
  ASSERT_TRUE(network.ok());
  auto graph = BuildExportGraph(**network);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const std::vector<std::string> block = {"Conv", "BatchNormalization", "Relu", "Conv", "BatchNormalization"};
  std::vector<std::string> expected = {"Conv", "BatchNormalization", "Relu"};
  expected.insert(expected.end(), block.begin(), block.end());  // res1: identity shortcut
  expected.insert(expected.end(), {"Add", "Relu"});
  expected.insert(expected.end(), block.begin(), block.end());  // res2: projection shortcut
  expected.insert(expected.end(), {"Conv", "BatchNormalization", "Add", "Relu", "Flatten", "Gemm", "Softmax"});
  EXPECT_EQ(OpTypes(*graph), expected);
  const modelio::ExportNode& identity_add = graph->nodes[8];
  EXPECT_EQ(identity_add.inputs, (std::vector<std::string>{"res1.bn2", "bn1"}));
  EXPECT_EQ(graph->initializers.at("res2.projection.weight").shape(), (engine::Shape{8, 4, 1, 1}));
  EXPECT_TRUE(modelio::ExportOnnx(*graph, {}).ok());
}

TEST(Export, WritesCheckedOnnxWithMetadata) {
  auto network = Network::Create("c4,p,fc6", {1, 8, 8}, 2, 1);
  ASSERT_TRUE(network.ok());
  auto graph = BuildExportGraph(**network);
  ASSERT_TRUE(graph.ok());
  engine::ModelMetadata metadata;
  metadata.labels = {"no", "yes"};
  metadata.mean = {0.5f};
  metadata.std = {0.25f};
  metadata.background_class = 0;
  metadata.properties.emplace("fovea.train.epochs", "1");
  auto bytes = modelio::ExportOnnx(*graph, metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  auto imported = modelio::ImportOnnx(*bytes);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_EQ(imported->opset, 13);
  EXPECT_EQ(imported->metadata.labels, metadata.labels);
  EXPECT_EQ(imported->metadata.mean, metadata.mean);
  EXPECT_EQ(imported->metadata.std, metadata.std);
  EXPECT_EQ(imported->metadata.background_class, 0);
  EXPECT_EQ(imported->metadata.properties.at("fovea.train.epochs"), "1");
}

TEST(Export, CheckerRejectsAGraphWithAMissingWeight) {
  auto network = Network::Create("c4,gap", {1, 8, 8}, 2, 1);
  ASSERT_TRUE(network.ok());
  auto graph = BuildExportGraph(**network);
  ASSERT_TRUE(graph.ok());
  graph->initializers.erase("conv1.weight");
  auto bytes = modelio::ExportOnnx(*graph, {});
  ASSERT_FALSE(bytes.ok());
  EXPECT_NE(bytes.status().message().find("ONNX checker"), std::string::npos) << bytes.status().message();
}

}  // namespace
}  // namespace fovea::trainer
