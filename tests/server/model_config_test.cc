// A model folder's configuration: config.txt (Fovea's shorthand) and config.pbtxt (Triton's format) become one
// ModelConfig, from which the batching, precision, version policy and metadata overrides follow.

#include "server/models/model_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "server/models/triton_config.h"

namespace fovea::server {
namespace {

// A fresh, empty model folder named `name` under the temporary directory, removed by the destructor.
class ModelFolder {
 public:
  explicit ModelFolder(const std::string& name)
      : root_(std::filesystem::temp_directory_path() / ("fovea-model-config-" + name)), path_(root_ / name) {
    std::filesystem::remove_all(root_);
    std::filesystem::create_directories(path_);
  }
  ~ModelFolder() { std::filesystem::remove_all(root_); }
  const std::filesystem::path& path() const { return path_; }
  void Write(const std::string& file, const std::string& text) const { std::ofstream(path_ / file) << text; }

 private:
  std::filesystem::path root_;
  std::filesystem::path path_;
};

TEST(ModelConfigTest, ShorthandKeysOverrideTheDefaultsAndCommentsAreIgnored) {
  BatchingOptions defaults;
  defaults.max_queue_size = 7;
  defaults.max_queue_delay_us = 99;
  const StatusOr<ModelFolderConfig> folder = ParseShorthandConfig(
      "# batching for the big model\n\nmax_batch_size = 16\n  instances = 2\ncompute_threads = 1\n", "config.txt");
  ASSERT_TRUE(folder.ok()) << folder.status().ToString();
  const BatchingOptions options = BatchingFor(*folder, defaults);
  EXPECT_EQ(options.max_batch_size, 16);
  EXPECT_EQ(options.instances, 2);
  EXPECT_EQ(options.compute_threads, 1);
  EXPECT_EQ(options.max_queue_size, 7) << "an absent key keeps the default";
  EXPECT_EQ(options.max_queue_delay_us, 99) << "an absent key keeps the default";
  // The shorthand is the same ModelConfig a config.pbtxt would hold.
  EXPECT_EQ(folder->config.max_batch_size(), 16);
  EXPECT_EQ(folder->config.instance_group(0).count(), 2);
  EXPECT_EQ(folder->config.instance_group(0).kind(), inference::ModelInstanceGroup::KIND_CPU);

  const StatusOr<ModelFolderConfig> queue = ParseShorthandConfig("max_queue_size = 3\n", "config.txt");
  ASSERT_TRUE(queue.ok());
  EXPECT_EQ(BatchingFor(*queue, defaults).max_queue_size, 3);
  EXPECT_EQ(BatchingFor(*queue, defaults).max_queue_delay_us, 99) << "setting the queue size keeps the flag's delay";
}

TEST(ModelConfigTest, ShorthandErrorsNameTheFileLineAndProblem) {
  StatusOr<ModelFolderConfig> parsed = ParseShorthandConfig("max_batch_size = 8\nmax_batch_sise = 4\n", "m/config.txt");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("m/config.txt line 2"), std::string::npos) << parsed.status().message();
  EXPECT_NE(parsed.status().message().find("unknown key 'max_batch_sise'"), std::string::npos);
  parsed = ParseShorthandConfig("max_queue_size = 0\n", "c");
  EXPECT_NE(parsed.status().message().find("max_queue_size = '0' is not an integer in [1, 1048576]"), std::string::npos)
      << parsed.status().message();
  EXPECT_FALSE(ParseShorthandConfig("instances = two\n", "c").ok());
  EXPECT_FALSE(ParseShorthandConfig("instances\n", "c").ok());
  parsed = ParseShorthandConfig("precision = int4\n", "c");
  EXPECT_NE(parsed.status().message().find("fp32 or bf16"), std::string::npos) << parsed.status().message();
}

TEST(ModelConfigTest, AFolderWithoutAFileUsesTheFlags) {
  const ModelFolder folder("plain");
  const StatusOr<ModelFolderConfig> loaded = LoadModelFolderConfig(folder.path());
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(loaded->source.empty());
  BatchingOptions defaults;
  defaults.max_batch_size = 5;
  EXPECT_EQ(BatchingFor(*loaded, defaults).max_batch_size, 5);
  EXPECT_EQ(PrecisionFor(*loaded, engine::Precision::kBf16), engine::Precision::kBf16);
  EXPECT_EQ(VersionPolicyFor(*loaded, *ParseVersionPolicy("latest:2")).latest_count, 2);
}

TEST(ModelConfigTest, PrecisionComesFromEitherFormat) {
  const ModelFolder folder("precision");
  folder.Write(kModelConfigFileName, "precision = bf16\n");
  EXPECT_EQ(PrecisionFor(*LoadModelFolderConfig(folder.path()), engine::Precision::kFp32), engine::Precision::kBf16);
  std::filesystem::remove(folder.path() / kModelConfigFileName);
  folder.Write(kTritonConfigFileName, R"(parameters { key: "precision" value: { string_value: "bf16" } })");
  EXPECT_EQ(PrecisionFor(*LoadModelFolderConfig(folder.path()), engine::Precision::kFp32), engine::Precision::kBf16);
}

TEST(ModelConfigTest, BothFilesInOneFolderAreAnError) {
  const ModelFolder folder("both");
  folder.Write(kModelConfigFileName, "max_batch_size = 4\n");
  folder.Write(kTritonConfigFileName, "max_batch_size: 4\n");
  const StatusOr<ModelFolderConfig> loaded = LoadModelFolderConfig(folder.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("both config.pbtxt and config.txt"), std::string::npos)
      << loaded.status().message();
}

TEST(ModelConfigTest, TritonConfigSetsBatchingInstancesAndPolicy) {
  const ModelFolder folder("resnet");
  folder.Write(kTritonConfigFileName, R"(
name: "resnet"
platform: "onnxruntime_onnx"
max_batch_size: 8
version_policy: { specific: { versions: [3, 1] } }
dynamic_batching {
  preferred_batch_size: [ 4, 6 ]
  max_queue_delay_microseconds: 100
  default_queue_policy { max_queue_size: 9 }
}
instance_group [ { count: 2 kind: KIND_CPU }, { kind: KIND_CPU } ]
parameters { key: "compute_threads" value: { string_value: "3" } }
)");
  const StatusOr<ModelFolderConfig> loaded = LoadModelFolderConfig(folder.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const BatchingOptions options = BatchingFor(*loaded, BatchingOptions{});
  EXPECT_EQ(options.max_batch_size, 8);
  EXPECT_EQ(options.max_queue_delay_us, 100);
  EXPECT_EQ(options.max_queue_size, 9);
  EXPECT_EQ(options.instances, 3) << "2 + a group without count (Triton's default 1)";
  EXPECT_EQ(options.compute_threads, 3);
  EXPECT_EQ(options.preferred_batch_sizes, (std::vector<int64_t>{4, 6}));
  const VersionPolicy policy = VersionPolicyFor(*loaded, VersionPolicy{});
  EXPECT_EQ(VersionPolicyText(policy), "specific:1,3");
  EXPECT_TRUE(loaded->not_implemented.empty());
}

TEST(ModelConfigTest, TritonMaxBatchSizeZeroRunsRequestsAlone) {
  const ModelFolder folder("unbatched");
  folder.Write(kTritonConfigFileName, "name: \"unbatched\"\n");
  BatchingOptions defaults;
  defaults.max_batch_size = 64;
  EXPECT_EQ(BatchingFor(*LoadModelFolderConfig(folder.path()), defaults).max_batch_size, 1);
}

TEST(ModelConfigTest, VersionPolicyMessageRoundTrips) {
  for (const char* text : {"latest:3", "all", "specific:2,5"}) {
    ModelFolderConfig folder;
    *folder.config.mutable_version_policy() = VersionPolicyMessage(*ParseVersionPolicy(text));
    EXPECT_EQ(VersionPolicyText(VersionPolicyFor(folder, VersionPolicy{})), text);
  }
}

TEST(ModelConfigTest, LabelFileBesideTheConfigBecomesTheLabels) {
  const ModelFolder folder("labelled");
  folder.Write(kTritonConfigFileName, R"(output [ { name: "logits" label_filename: "labels.txt" } ])");
  folder.Write("labels.txt", "cat\r\ndog\nbird\n");
  const StatusOr<ModelFolderConfig> loaded = LoadModelFolderConfig(folder.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->labels, (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(loaded->labels_source, (folder.path() / "labels.txt").string());
  const auto overrides = MetadataOverrides(*loaded);
  ASSERT_EQ(overrides.size(), 1u);
  EXPECT_EQ(overrides[0], (std::pair<std::string, std::string>{"fovea.labels", "cat\ndog\nbird"}));
}

TEST(ModelConfigTest, LabelFileErrorsNameTheFile) {
  const ModelFolder folder("badlabels");
  folder.Write(kTritonConfigFileName, R"(output [ { name: "logits" label_filename: "labels.txt" } ])");
  StatusOr<ModelFolderConfig> loaded = LoadModelFolderConfig(folder.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("label_filename 'labels.txt' does not exist"), std::string::npos)
      << loaded.status().message();
  folder.Write("labels.txt", "cat\n\ndog\n");
  loaded = LoadModelFolderConfig(folder.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("labels.txt line 2 is empty"), std::string::npos)
      << loaded.status().message();
  folder.Write(kTritonConfigFileName, R"(output [ { name: "logits" label_filename: "../labels.txt" } ])");
  EXPECT_FALSE(LoadModelFolderConfig(folder.path()).ok()) << "a label file outside the folder";
}

TEST(ModelConfigTest, ParametersAndFormatBecomeMetadataOverrides) {
  const ModelFolder folder("foreign");
  folder.Write(kTritonConfigFileName, R"(
input [ { name: "x" format: FORMAT_NHWC } ]
parameters [
  { key: "mean" value: { string_value: "0.485,0.456,0.406" } },
  { key: "std" value: { string_value: "0.229,0.224,0.225" } },
  { key: "channel_order" value: { string_value: "BGR" } },
  { key: "resize_mode" value: { string_value: "crop" } },
  { key: "resize_shorter_side" value: { string_value: "256" } },
  { key: "scores" value: { string_value: "sigmoid" } }
]
)");
  const StatusOr<ModelFolderConfig> loaded = LoadModelFolderConfig(folder.path());
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  const auto overrides = MetadataOverrides(*loaded);
  const std::map<std::string, std::string> entries(overrides.begin(), overrides.end());
  EXPECT_EQ(entries.at("fovea.input.layout"), "NHWC");
  EXPECT_EQ(entries.at("fovea.input.mean"), "0.485,0.456,0.406");
  EXPECT_EQ(entries.at("fovea.input.std"), "0.229,0.224,0.225");
  EXPECT_EQ(entries.at("fovea.input.channel_order"), "BGR");
  EXPECT_EQ(entries.at("fovea.input.resize_mode"), "crop");
  EXPECT_EQ(entries.at("fovea.input.resize_shorter_side"), "256");
  EXPECT_EQ(entries.at("fovea.output.scores"), "sigmoid");
}

TEST(ModelConfigTest, TritonConfigErrorsFailTheFolderWithFileAndPosition) {
  const ModelFolder folder("broken");
  folder.Write(kTritonConfigFileName, "name: \"broken\"\nmax_batch_size: eight\n");
  StatusOr<ModelFolderConfig> loaded = LoadModelFolderConfig(folder.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("config.pbtxt:2:17:"), std::string::npos) << loaded.status().message();
  folder.Write(kTritonConfigFileName, "name: \"other\"\n");
  loaded = LoadModelFolderConfig(folder.path());
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.status().message().find("'other' differs from the model's folder name 'broken'"), std::string::npos)
      << loaded.status().message();
}

}  // namespace
}  // namespace fovea::server
