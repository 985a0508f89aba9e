// The fovea.* metadata keys (docs/model-format.md), through ImportOnnx and through ParseMetadata directly.

#include "modelio/metadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "modelio/onnx_import.h"
#include "tests/modelio/onnx_builder.h"

namespace fovea::modelio {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::OnnxBuilder;

constexpr int64_t kClasses = 3;

// A classifier head over a free-size RGB image: GlobalAveragePool → Flatten → Gemm to three classes.
OnnxBuilder Classifier() {
  OnnxBuilder b(13);
  b.Input("image", {-1, 3, 32, 32}).Output("scores", {-1, kClasses});
  b.Initializer("w", testing::RandomTensor({3, kClasses}, 1));
  b.Node("GlobalAveragePool", {"image"}, {"g"});
  b.Node("Flatten", {"g"}, {"f"});
  b.Node("MatMul", {"f", "w"}, {"scores"});
  return b;
}

TEST(MetadataTest, AllKeysAreParsed) {
  OnnxBuilder b = Classifier();
  b.Metadata("fovea.labels", "cat\ndog\r\nbird\n");
  b.Metadata("fovea.input.layout", "NCHW");
  b.Metadata("fovea.input.channels", "3");
  b.Metadata("fovea.input.mean", "0.485, 0.456,0.406");
  b.Metadata("fovea.input.std", "0.229,0.224,0.225");
  b.Metadata("fovea.background_class", "2");
  b.Metadata("fovea.train.recipe", "sgd lr=0.1, 30 epochs");
  b.Metadata("author", "someone");
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  const engine::ModelMetadata& m = imported->metadata;
  EXPECT_THAT(m.labels, ElementsAre("cat", "dog", "bird"));
  EXPECT_EQ(m.input_layout, "NCHW");
  EXPECT_EQ(m.input_channels, 3);
  EXPECT_EQ(m.input_height, 32);  // from the graph input
  EXPECT_EQ(m.input_width, 32);
  EXPECT_THAT(m.mean, ElementsAre(0.485f, 0.456f, 0.406f));
  EXPECT_THAT(m.std, ElementsAre(0.229f, 0.224f, 0.225f));
  EXPECT_EQ(m.background_class, 2);
  EXPECT_EQ(m.properties.at("fovea.train.recipe"), "sgd lr=0.1, 30 epochs");
  EXPECT_EQ(m.properties.at("author"), "someone");
  EXPECT_EQ(m.properties.size(), 8u);
}

TEST(MetadataTest, ModelWithoutMetadataUsesIndicesAsLabels) {
  auto imported = ImportOnnx(Classifier().Bytes());
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_TRUE(imported->metadata.labels.empty());
  EXPECT_EQ(imported->metadata.input_channels, 3);
  EXPECT_EQ(imported->metadata.background_class, -1);
  EXPECT_TRUE(imported->metadata.properties.empty());
  auto built = engine::Model::Create(std::move(imported->graph), std::move(imported->metadata));
  ASSERT_TRUE(built.ok());
  EXPECT_EQ((*built)->Label(2), "2");
}

TEST(MetadataTest, SizeKeysFillFreeGraphDims) {
  engine::ValueInfo input{"image", engine::DataType::kFloat32, {-1, 3, -1, -1}};
  auto m = ParseMetadata({{"fovea.input.height", "224"}, {"fovea.input.width", "160"}}, &input, nullptr);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->input_height, 224);
  EXPECT_EQ(m->input_width, 160);
  EXPECT_EQ(m->input_channels, 3);
}

TEST(MetadataTest, NhwcLayoutReadsChannelsLast) {
  engine::ValueInfo input{"image", engine::DataType::kFloat32, {-1, 28, 20, 1}};
  auto m = ParseMetadata({{"fovea.input.layout", "NHWC"}}, &input, nullptr);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->input_channels, 1);
  EXPECT_EQ(m->input_height, 28);
  EXPECT_EQ(m->input_width, 20);
}

struct BadMetadataCase {
  std::string key, value, expected_message;
};

class BadMetadataTest : public ::testing::TestWithParam<BadMetadataCase> {};

TEST_P(BadMetadataTest, IsAnErrorNamingTheKey) {
  OnnxBuilder b = Classifier();
  b.Metadata(GetParam().key, GetParam().value);
  auto imported = ImportOnnx(b.Bytes());
  ASSERT_FALSE(imported.ok());
  EXPECT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(imported.status().message(), HasSubstr(GetParam().expected_message));
}

INSTANTIATE_TEST_SUITE_P(
    Values, BadMetadataTest,
    ::testing::Values(BadMetadataCase{"fovea.input.mean", "0.5, abc, 0.5",
                                      "'fovea.input.mean' must be comma-separated"},
                      BadMetadataCase{"fovea.input.mean", "0.5, 0.5", "expected 1 or one per input channel (3)"},
                      BadMetadataCase{"fovea.input.std", "0.2, 0, 0.2", "must be positive"},
                      BadMetadataCase{"fovea.input.channels", "1", "'fovea.input.channels' is 1 but the graph"},
                      BadMetadataCase{"fovea.input.height", "-5", "'fovea.input.height' must be an integer"},
                      BadMetadataCase{"fovea.input.width", "12px", "'fovea.input.width' must be an integer"},
                      BadMetadataCase{"fovea.input.layout", "CHW", "must be NCHW or NHWC"},
                      BadMetadataCase{"fovea.input.hieght", "32", "unknown metadata key 'fovea.input.hieght'"},
                      BadMetadataCase{"fovea.labels", "a\nb", "has 2 labels but output 'scores' has 3"},
                      BadMetadataCase{"fovea.labels", "a\n\nc", "label 1 is empty"},
                      BadMetadataCase{"fovea.background_class", "x", "'fovea.background_class' must be"},
                      BadMetadataCase{"fovea.input.channel_order", "GBR", "must be RGB or BGR, got 'GBR'"},
                      BadMetadataCase{"fovea.input.resize_mode", "pad", "must be stretch or crop, got 'pad'"},
                      BadMetadataCase{"fovea.input.resize_shorter_side", "0",
                                      "'fovea.input.resize_shorter_side' must be an integer in [1, 65536]"}));

TEST(MetadataTest, OverridesReplaceTheFilesEntriesBeforeTheyAreChecked) {
  OnnxBuilder b = Classifier();
  b.Metadata("fovea.labels", "a\nb\nc");
  b.Metadata("fovea.input.resize_mode", "stretch");
  auto imported = ImportOnnx(
      b.Bytes(), {},
      {{"fovea.labels", "x\ny\nz"}, {"fovea.input.resize_mode", "crop"}, {"fovea.input.channel_order", "BGR"}});
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  EXPECT_THAT(imported->metadata.labels, ElementsAre("x", "y", "z"));
  EXPECT_EQ(imported->metadata.properties.at("fovea.input.resize_mode"), "crop");
  EXPECT_EQ(imported->metadata.properties.at("fovea.input.channel_order"), "BGR");
  auto wrong = ImportOnnx(b.Bytes(), {}, {{"fovea.labels", "x\ny"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("has 2 labels but output 'scores' has 3"));
}

TEST(MetadataTest, BackgroundClassMustIndexALabel) {
  auto m = ParseMetadata({{"fovea.labels", "a\nb"}, {"fovea.background_class", "2"}}, nullptr, nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("[0, 1]"));
}

TEST(MetadataTest, ConflictingDuplicateKeyIsAnError) {
  auto m = ParseMetadata({{"fovea.labels", "a"}, {"fovea.labels", "b"}}, nullptr, nullptr);
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(m.status().message(), HasSubstr("'fovea.labels' appears more than once with different values"));
  auto same = ParseMetadata({{"fovea.labels", "a"}, {"fovea.labels", "a"}}, nullptr, nullptr);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->labels.size(), 1u);
}

TEST(MetadataTest, LabelsAndFloatListsParse) {
  EXPECT_THAT(*ParseLabels("only"), ElementsAre("only"));
  EXPECT_THAT(*ParseLabels("a b\nc,d\n"), ElementsAre("a b", "c,d"));
  EXPECT_FALSE(ParseLabels("").ok());
  EXPECT_THAT(*ParseFloatList(" 1.5 ,-2,3e-1", "k"), ElementsAre(1.5f, -2.0f, 0.3f));
  EXPECT_FALSE(ParseFloatList("1,,2", "k").ok());
  EXPECT_FALSE(ParseFloatList("nan", "k").ok());
}

}  // namespace
}  // namespace fovea::modelio
