#include "tests/server/channel_mean_model.h"

#include <gtest/gtest.h>

#include "engine/ops/flatten.h"
#include "engine/ops/pool.h"

namespace fovea::server::testing {

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
