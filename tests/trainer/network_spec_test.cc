// Architecture spec parsing: tokens, presets, the appended classifier, shapes, and errors naming the bad token.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trainer/network.h"
#include "trainer/network_spec.h"

namespace fovea::trainer {
namespace {

using ::testing::HasSubstr;

TEST(NetworkSpec, ExpandsConvBlocksPoolsAndClassifier) {
  auto layers = ParseNetworkSpec("c32,c64k5s2,p,gap", 10);
  ASSERT_TRUE(layers.ok()) << layers.status().ToString();
  // conv + bn(with fused relu) twice, max pool, global pool, classifier.
  ASSERT_EQ(layers->size(), 7u);
  EXPECT_TRUE(std::holds_alternative<ConvLayerParams>((*layers)[0].params));
  ASSERT_TRUE(std::holds_alternative<BatchNormLayerParams>((*layers)[1].params));
  EXPECT_TRUE(std::get<BatchNormLayerParams>((*layers)[1].params).fuse_relu);
  EXPECT_EQ((*layers)[2].kernel, 5);
  EXPECT_EQ(std::get<ConvLayerParams>((*layers)[2].params).window.strides, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(std::get<ConvLayerParams>((*layers)[2].params).window.pads_begin, (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(std::get<PoolLayerParams>((*layers)[5].params).global);
  EXPECT_EQ(layers->back().name, "classifier");
  EXPECT_EQ(layers->back().out_features, 10);
}

TEST(NetworkSpec, PresetsParseAndDefaultHasGlobalAveragePoolHead) {
  for (const auto& [name, spec] : Presets()) {
    auto layers = ParseNetworkSpec(name, 10);
    ASSERT_TRUE(layers.ok()) << name << ": " << layers.status().ToString();
  }
  auto layers = ParseNetworkSpec("default", 10);
  ASSERT_TRUE(layers.ok());
  const auto& before_classifier = (*layers)[layers->size() - 2];
  ASSERT_TRUE(std::holds_alternative<PoolLayerParams>(before_classifier.params));
  EXPECT_TRUE(std::get<PoolLayerParams>(before_classifier.params).global);
}

TEST(NetworkSpec, BadTokensAreNamed) {
  for (const std::string bad : {"c32,x7", "c", "c32k", "fc", "p2q3", "c32,,p", "c99999"}) {
    auto layers = ParseNetworkSpec(bad, 10);
    ASSERT_FALSE(layers.ok()) << bad;
    EXPECT_NE(layers.status().message().find("architecture"), std::string::npos) << bad;
  }
  auto layers = ParseNetworkSpec("c32,x7", 10);
  EXPECT_NE(layers.status().message().find("'x7'"), std::string::npos);
}

TEST(NetworkSpec, ResidualBlocksExpandIntoBranchesWithAProjectionOnlyWhenTheShapeChanges) {
  auto layers = ParseNetworkSpec("c8,r8,r16s2", 10);
  ASSERT_TRUE(layers.ok()) << layers.status().ToString();
  ASSERT_EQ(layers->size(), 5u);  // conv, bn, two blocks, classifier
  const LayerDef& same = (*layers)[2];
  const LayerDef& down = (*layers)[3];
  EXPECT_EQ(same.name, "res1");
  EXPECT_EQ(std::get<ResidualLayerParams>(down.params).stride, 2);
  const ResidualBranches identity = ExpandResidual(same, 8);
  ASSERT_EQ(identity.main.size(), 4u);
  EXPECT_TRUE(identity.shortcut.empty());
  EXPECT_TRUE(std::get<BatchNormLayerParams>(identity.main[1].params).fuse_relu);
  EXPECT_FALSE(std::get<BatchNormLayerParams>(identity.main[3].params).fuse_relu);  // ReLU comes after the sum
  const ResidualBranches projected = ExpandResidual(down, 8);
  EXPECT_EQ(std::get<ConvLayerParams>(projected.main[0].params).window.strides, (std::vector<int64_t>{2, 2}));
  ASSERT_EQ(projected.shortcut.size(), 2u);
  EXPECT_EQ(projected.shortcut[0].name, "res2.projection");
  EXPECT_EQ(projected.shortcut[0].kernel, 1);
  EXPECT_EQ(std::get<ConvLayerParams>(projected.shortcut[0].params).window.strides, (std::vector<int64_t>{2, 2}));
  // A channel change alone also needs the projection.
  EXPECT_EQ(ExpandResidual(same, 4).shortcut.size(), 2u);

  auto network = Network::Create("c8,r8,r16s2", {1, 28, 28}, 10, 1);
  ASSERT_TRUE(network.ok()) << network.status().ToString();
  EXPECT_EQ((*network)->shapes()[3], (engine::Shape{1, 8, 28, 28}));
  EXPECT_EQ((*network)->shapes()[4], (engine::Shape{1, 16, 14, 14}));
  const ParameterStore& store = (*network)->parameters();
  ASSERT_NE(store.Find("res2.projection.weight"), nullptr);
  EXPECT_EQ(store.Find("res2.projection.weight")->shape, (engine::Shape{16, 8, 1, 1}));
  EXPECT_EQ(store.Find("res1.projection.weight"), nullptr);
  // Each block starts as the identity: its last normalization's scale is zero.
  for (const float v : store.Find("res1.bn2.scale")->value) EXPECT_EQ(v, 0.0f);
  for (const float v : store.Find("res1.bn1.scale")->value) EXPECT_EQ(v, 1.0f);
}

TEST(NetworkSpec, BadResidualTokensAreNamed) {
  for (const std::string bad : {"r", "r8k5", "r8s", "r0", "r8x2"}) {
    auto layers = ParseNetworkSpec(bad, 10);
    ASSERT_FALSE(layers.ok()) << bad;
    EXPECT_THAT(layers.status().message(), HasSubstr("'" + bad + "'"));
    EXPECT_THAT(layers.status().message(), HasSubstr("rN[sS]"));
  }
}

TEST(NetworkSpec, NetworkShapesFollowTheLayers) {
  auto network = Network::Create("c8,p,c16s2,fc32", {1, 28, 28}, 10, 1);
  ASSERT_TRUE(network.ok()) << network.status().ToString();
  EXPECT_EQ((*network)->shapes().back(), (engine::Shape{1, 10}));
  // After the stride-2 conv block: 28 → pool 14 → conv s2 7.
  const auto* fc = (*network)->parameters().Find("fc1.weight");
  ASSERT_NE(fc, nullptr);
  EXPECT_EQ(fc->shape, (engine::Shape{32, 16, 7, 7}));
  EXPECT_EQ((*network)->parameters().Find("classifier.weight")->shape, (engine::Shape{10, 32}));
}

TEST(NetworkSpec, WindowLargerThanTheImageIsAnError) {
  // 28 → 14 → 7 → 3 → 1, and the fifth 2x2 pool has no room on a 1x1 map.
  auto network = Network::Create("p,p,p,p,p,p", {1, 28, 28}, 10, 1);
  ASSERT_FALSE(network.ok());
  EXPECT_EQ(network.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(network.status().message(), HasSubstr("layer 'maxpool4'"));
  EXPECT_THAT(network.status().message(), HasSubstr("does not fit input of 1"));
}

}  // namespace
}  // namespace fovea::trainer
