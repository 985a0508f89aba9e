#include "tests/server/channel_mean_model.h"

#include <gtest/gtest.h>

#include "engine/ops/activation.h"
#include "engine/ops/flatten.h"
#include "engine/ops/pool.h"

namespace fovea::server::testing {
namespace {

std::shared_ptr<const engine::Op> GlobalAveragePool() {
  engine::ops::PoolParams pool;
  pool.kind = engine::ops::PoolParams::Kind::kAverage;
  pool.global = true;
  return std::move(engine::ops::Pool::Create(pool)).value();
}

std::shared_ptr<const engine::Op> Sigmoid() {
  return std::move(engine::ops::Activation::Create(
                       engine::ops::DefaultActivationParams(engine::ops::ActivationKind::kSigmoid)))
      .value();
}

std::shared_ptr<const ServedModel> Serve(const std::string& name, engine::Graph graph, engine::ModelMetadata metadata) {
  auto model = engine::Model::Create(std::move(graph), std::move(metadata));
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  auto served = PrepareModel(name, 1, *model);
  EXPECT_TRUE(served.ok()) << served.status().ToString();
  return *served;
}

// [N, channels, size, size] "pixels" → the mean of each channel, "means" [N, channels].
engine::Graph ChannelMeans(int64_t channels, int64_t size) {
  engine::Graph graph;
  graph.inputs.push_back({"pixels", engine::DataType::kFloat32, {-1, channels, size, size}});
  graph.nodes.push_back({"pool", GlobalAveragePool(), {"pixels"}, {"pooled"}});
  graph.nodes.push_back({"flatten", std::move(engine::ops::Flatten::Create({})).value(), {"pooled"}, {"means"}});
  return graph;
}

}  // namespace

std::shared_ptr<const ServedModel> MapAndScoresModel(const std::string& name, int64_t channels, int64_t size) {
  engine::Graph graph = ChannelMeans(channels, size);
  graph.nodes.push_back({"map", Sigmoid(), {"pixels"}, {"map"}});
  graph.outputs.push_back({"map", engine::DataType::kFloat32, {-1, channels, size, size}});
  graph.outputs.push_back({"means", engine::DataType::kFloat32, {-1, channels}});
  return Serve(name, std::move(graph), {});
}

StatusOr<std::shared_ptr<const ServedModel>> LogitsModel(const std::string& name, int64_t channels, int64_t size,
                                                         std::map<std::string, std::string> properties) {
  engine::Graph graph = ChannelMeans(channels, size);
  graph.outputs.push_back({"means", engine::DataType::kFloat32, {-1, channels}});
  engine::ModelMetadata metadata;
  metadata.properties = std::move(properties);
  FOVEA_ASSIGN_OR_RETURN(auto model, engine::Model::Create(std::move(graph), std::move(metadata)));
  return PrepareModel(name, 1, std::move(model));
}

StatusOr<std::shared_ptr<const ServedModel>> ConfiguredLogitsModel(const std::string& name, int64_t channels,
                                                                   int64_t size, const ModelFolderConfig& folder) {
  engine::Graph graph = ChannelMeans(channels, size);
  graph.outputs.push_back({"means", engine::DataType::kFloat32, {-1, channels}});
  engine::ModelMetadata metadata;
  for (const auto& [key, value] : MetadataOverrides(folder)) metadata.properties[key] = value;
  metadata.labels = folder.labels;
  if (const auto layout = metadata.properties.find("fovea.input.layout"); layout != metadata.properties.end()) {
    metadata.input_layout = layout->second;
  }
  FOVEA_ASSIGN_OR_RETURN(auto model, engine::Model::Create(std::move(graph), std::move(metadata)));
  return PrepareModel(name, 1, std::move(model), std::make_shared<const ModelFolderConfig>(folder),
                      *ParseVersionPolicy("latest:2"));
}

std::shared_ptr<const ServedModel> MultiLabelModel(const std::string& name, int64_t channels, int64_t size) {
  engine::Graph graph = ChannelMeans(channels, size);
  graph.nodes.push_back({"sigmoid", Sigmoid(), {"means"}, {"probabilities"}});
  graph.outputs.push_back({"probabilities", engine::DataType::kFloat32, {-1, channels}});
  return Serve(name, std::move(graph), {});
}

std::shared_ptr<const ServedModel> ChannelMeanModel(const std::string& name, int64_t version,
                                                    const std::vector<std::string>& labels, int64_t size, float mean,
                                                    float std, const std::string& input_name,
                                                    const std::string& output_name) {
  const auto channels = static_cast<int64_t>(labels.size());
  engine::Graph graph;
  graph.inputs.push_back({input_name, engine::DataType::kFloat32, {-1, channels, size, size}});
  graph.outputs.push_back({output_name, engine::DataType::kFloat32, {-1, channels}});
  engine::ops::PoolParams pool;
  pool.kind = engine::ops::PoolParams::Kind::kAverage;
  pool.global = true;
  graph.nodes.push_back({"pool", std::move(engine::ops::Pool::Create(pool)).value(), {input_name}, {"pooled"}});
  graph.nodes.push_back({"flatten", std::move(engine::ops::Flatten::Create({})).value(), {"pooled"}, {output_name}});
  engine::ModelMetadata metadata;
  metadata.labels = labels;
  metadata.mean = {mean};
  metadata.std = {std};
  auto model = engine::Model::Create(std::move(graph), std::move(metadata));
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  auto served = PrepareModel(name, version, *model);
  EXPECT_TRUE(served.ok()) << served.status().ToString();
  return *served;
}

}  // namespace fovea::server::testing
