#include "server/models/model_repository.h"

#include <gtest/gtest.h>

namespace fovea::server {
namespace {

class ModelNameTest : public ::testing::TestWithParam<std::pair<const char*, bool>> {};

TEST_P(ModelNameTest, OnlyPlainFolderNamesAreValid) {
  const auto [name, valid] = GetParam();
  const Status status = ValidateModelName(name);
  EXPECT_EQ(status.ok(), valid) << name << ": " << status.message();
  if (!valid) {
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  }
}

INSTANTIATE_TEST_SUITE_P(Names, ModelNameTest,
                         ::testing::Values(std::pair{"resnet-18_v2.1", true}, std::pair{"a", true},
                                           std::pair{"", false}, std::pair{"..", false}, std::pair{"../x", false},
                                           std::pair{"a/b", false}, std::pair{".hidden", false},
                                           std::pair{"a\\b", false}, std::pair{"name with space", false},
                                           std::pair{"x\n", false}));

TEST(ModelNameTest, LongNamesAreRejected) {
  EXPECT_FALSE(ValidateModelName(std::string(129, 'a')).ok());
  EXPECT_TRUE(ValidateModelName(std::string(128, 'a')).ok());
}

std::shared_ptr<const ServedModel> FakeServed(const std::string& name, int64_t version) {
  auto served = std::make_shared<ServedModel>();
  served->name = name;
  served->version = version;
  return served;
}

TEST(ModelRepositoryTest, FindResolvesLatestAndNamesWhatExists) {
  ModelCatalog catalog;
  catalog["net"][1] = FakeServed("net", 1);
  catalog["net"][3] = FakeServed("net", 3);
  catalog["other"][1] = FakeServed("other", 1);
  const ModelRepository repository(std::move(catalog));
  EXPECT_EQ((*repository.Find("net", 0))->version, 3);
  EXPECT_EQ((*repository.Find("net", 1))->version, 1);
  const auto missing_version = repository.Find("net", 2);
  EXPECT_EQ(missing_version.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing_version.status().message().find("loaded versions: 1, 3"), std::string::npos);
  const auto missing_model = repository.Find("nope", 0);
  EXPECT_EQ(missing_model.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing_model.status().message().find("served models: net, other"), std::string::npos);
  EXPECT_EQ(repository.Find("../net", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repository.Find("net", -1).status().code(), StatusCode::kInvalidArgument);
}

TEST(ModelRepositoryTest, ReplaceSwapsTheCatalogWhileOldLookupsStayValid) {
  ModelCatalog first;
  first["net"][1] = FakeServed("net", 1);
  ModelRepository repository(std::move(first));
  const std::shared_ptr<const ServedModel> held = *repository.Find("net", 0);
  ModelCatalog second;
  second["net"][2] = FakeServed("net", 2);
  repository.Replace(std::move(second));
  EXPECT_EQ((*repository.Find("net", 0))->version, 2);
  EXPECT_EQ(held->version, 1);
}

TEST(ModelRepositoryTest, AnEmptyRepositoryIsUnavailableUntilTheFirstCatalog) {
  ModelRepository repository;
  EXPECT_FALSE(repository.ready());
  EXPECT_EQ(repository.Find("net", 0).status().code(), StatusCode::kUnavailable);
  repository.Replace({});
  EXPECT_TRUE(repository.ready());
  EXPECT_EQ(repository.Find("net", 0).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace fovea::server
