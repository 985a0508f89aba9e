// A model loaded with a config.pbtxt: its inputs and outputs checked against the model, and the ModelConfig answer
// (the effective configuration) that keeps what the file says, fills in the rest and round-trips through text format.

#include <google/protobuf/text_format.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "server/api/oip_repository.h"
#include "server/models/model_config.h"
#include "server/models/triton_config.h"
#include "tests/server/channel_mean_model.h"

namespace fovea::server {
namespace {

constexpr int64_t kChannels = 3;
constexpr int64_t kSize = 4;

ModelFolderConfig FolderConfig(const std::string& text) {
  const StatusOr<ParsedTritonConfig> parsed = ParseTritonConfig(text, "m/config.pbtxt");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  ModelFolderConfig folder;
  folder.config = parsed->config;
  folder.source = "m/config.pbtxt";
  folder.triton_format = true;
  folder.sets_max_batch_size = true;
  return folder;
}

TEST(EffectiveConfigTest, DimsThatContradictTheModelFailTheLoad) {
  const auto loaded = testing::ConfiguredLogitsModel(
      "m", kChannels, kSize, FolderConfig("max_batch_size: 2 input [ { name: \"pixels\" dims: [ 3, 5, 5 ] } ]"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find(
                "m/config.pbtxt: input 'pixels': config.pbtxt dims [3, 5, 5] but the model has [3, 4, 4]"),
            std::string::npos)
      << loaded.status().message();
}

TEST(EffectiveConfigTest, LabelsWithTheWrongCountFailTheLoadNamingTheFile) {
  ModelFolderConfig folder = FolderConfig("output [ { name: \"means\" label_filename: \"labels.txt\" } ]");
  folder.labels = {"a", "b"};
  folder.labels_source = "m/labels.txt";
  const auto loaded = testing::ConfiguredLogitsModel("m", kChannels, kSize, folder);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("m/labels.txt has 2 labels but output 'means'"), std::string::npos)
      << loaded.status().message();
}

TEST(EffectiveConfigTest, AnswerKeepsTheFileFillsTheRestAndRoundTrips) {
  ModelFolderConfig folder = FolderConfig(R"(
name: "m"
max_batch_size: 2
input [ { name: "pixels" data_type: TYPE_FP32 dims: [ 3, -1, 4 ] } ]
output [ { name: "means" label_filename: "labels.txt" } ]
dynamic_batching { preferred_batch_size: [ 2 ] }
parameters { key: "resize_mode" value: { string_value: "crop" } }
)");
  folder.labels = {"a", "b", "c"};
  const auto loaded = testing::ConfiguredLogitsModel("m", kChannels, kSize, folder);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  BatchingOptions batching = BatchingFor(*(*loaded)->folder_config, BatchingOptions{});
  inference::ModelConfig config;
  DescribeModelConfig(**loaded, batching, config);
  EXPECT_EQ(config.max_batch_size(), 2);
  EXPECT_EQ(config.platform(), "onnxruntime_onnx");
  EXPECT_EQ(config.version_policy().latest().num_versions(), 2u) << "the server's policy, filled in";
  ASSERT_EQ(config.input_size(), 1);
  EXPECT_EQ(std::vector<int64_t>(config.input(0).dims().begin(), config.input(0).dims().end()),
            (std::vector<int64_t>{3, 4, 4}))
      << "the served size where the file left it free";
  ASSERT_EQ(config.output_size(), 1);
  EXPECT_EQ(config.output(0).label_filename(), "labels.txt");
  EXPECT_EQ(config.output(0).data_type(), inference::TYPE_FP32);
  EXPECT_EQ(config.dynamic_batching().preferred_batch_size_size(), 1);
  EXPECT_EQ(config.instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);
  EXPECT_EQ(config.parameters().at("resize_mode").string_value(), "crop");
  EXPECT_EQ(config.parameters().at("resize_shorter_side").string_value(), "5") << "round(4 / 0.875)";
  EXPECT_EQ(config.parameters().at("channel_order").string_value(), "RGB");

  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  const StatusOr<ParsedTritonConfig> reparsed = ParseTritonConfig(text, "answer");
  ASSERT_TRUE(reparsed.ok()) << reparsed.status().ToString();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(reparsed->config, config)) << text;
  EXPECT_TRUE(ValidateTritonConfig(reparsed->config, "m").ok());
}

TEST(EffectiveConfigTest, WithoutAFileTheAnswerDescribesTheModelAndTheFlags) {
  const auto loaded = testing::ConfiguredLogitsModel("plain", kChannels, kSize, ModelFolderConfig{});
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  BatchingOptions batching;
  batching.max_batch_size = 16;
  batching.instances = 2;
  inference::ModelConfig config;
  DescribeModelConfig(**loaded, batching, config);
  EXPECT_EQ(config.name(), "plain");
  EXPECT_EQ(config.max_batch_size(), 16);
  EXPECT_EQ(config.input(0).format(), inference::ModelInput::FORMAT_NCHW);
  EXPECT_EQ(config.output(0).name(), "means");
  EXPECT_EQ(config.instance_group(0).count(), 2);
  EXPECT_EQ(config.parameters().at("resize_mode").string_value(), "stretch");
  std::string text;
  ASSERT_TRUE(google::protobuf::TextFormat::PrintToString(config, &text));
  inference::ModelConfig reparsed;
  ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &reparsed));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(reparsed, config)) << text;
}

}  // namespace
}  // namespace fovea::server
