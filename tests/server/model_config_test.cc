// models/<name>/config.txt: the per-model batching settings.

#include "server/models/model_config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace fovea::server {
namespace {

TEST(ModelConfigTest, KeysOverrideTheDefaultsAndCommentsAreIgnored) {
  BatchingOptions options;
  options.max_queue_size = 7;
  const Status status = ParseModelConfig(
      "# batching for the big model\n\nmax_batch_size = 16\n  max_queue_delay_us=250  \ninstances = 2\n"
      "compute_threads = 1\n",
      "config.txt", options);
  ASSERT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(options.max_batch_size, 16);
  EXPECT_EQ(options.max_queue_delay_us, 250);
  EXPECT_EQ(options.instances, 2);
  EXPECT_EQ(options.compute_threads, 1);
  EXPECT_EQ(options.max_queue_size, 7) << "an absent key keeps the default";
}

TEST(ModelConfigTest, ErrorsNameTheFileLineAndProblem) {
  BatchingOptions options;
  Status status = ParseModelConfig("max_batch_size = 8\nmax_batch_sise = 4\n", "m/config.txt", options);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("m/config.txt line 2"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("unknown key 'max_batch_sise'"), std::string::npos) << status.message();

  status = ParseModelConfig("max_queue_size = 0\n", "c", options);
  EXPECT_NE(status.message().find("max_queue_size = '0' is not an integer in [1, 1048576]"), std::string::npos)
      << status.message();
  EXPECT_FALSE(ParseModelConfig("instances = two\n", "c", options).ok());
  EXPECT_FALSE(ParseModelConfig("instances\n", "c", options).ok());
}

TEST(ModelConfigTest, AMissingFileMeansTheDefaults) {
  const std::filesystem::path folder = std::filesystem::temp_directory_path() / "fovea-model-config-test";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  BatchingOptions defaults;
  defaults.max_batch_size = 5;
  StatusOr<BatchingOptions> loaded = LoadModelConfig(folder, defaults);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->max_batch_size, 5);

  std::ofstream(folder / kModelConfigFileName) << "max_batch_size = 12\n";
  loaded = LoadModelConfig(folder, defaults);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->max_batch_size, 12);
  std::filesystem::remove_all(folder);
}

TEST(ModelConfigTest, PrecisionKeyOverridesTheServerDefault) {
  const std::filesystem::path folder = std::filesystem::temp_directory_path() / "fovea-model-config-precision";
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  EXPECT_EQ(LoadModelPrecision(folder, engine::Precision::kBf16).value(), engine::Precision::kBf16);
  std::ofstream(folder / kModelConfigFileName) << "max_batch_size = 12\n";
  EXPECT_EQ(LoadModelPrecision(folder, engine::Precision::kBf16).value(), engine::Precision::kBf16);
  std::ofstream(folder / kModelConfigFileName) << "# bf16 convolutions\nprecision = bf16\nmax_batch_size = 12\n";
  EXPECT_EQ(LoadModelPrecision(folder, engine::Precision::kFp32).value(), engine::Precision::kBf16);
  BatchingOptions options;
  EXPECT_TRUE(LoadModelConfig(folder, options).ok());  // the batcher accepts the key it does not use

  std::ofstream(folder / kModelConfigFileName) << "precision = int4\n";
  const auto bad = LoadModelPrecision(folder, engine::Precision::kFp32);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("config.txt line 1"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("fp32 or bf16"), std::string::npos) << bad.status().message();
  std::filesystem::remove_all(folder);
}

}  // namespace
}  // namespace fovea::server
