#include "server/model_repository.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace fovea::server {
namespace {

namespace fs = std::filesystem;

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

class ScanRepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fovea-repo-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }
  void Touch(const fs::path& relative) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative) << "bytes";
  }
  fs::path root_;
};

TEST_F(ScanRepositoryTest, SkipsBadFoldersAndModelsThatFailToLoad) {
  Touch("good/1/model.onnx");
  Touch("good/notaversion/model.onnx");
  Touch("good/0/model.onnx");
  Touch(".hidden/1/model.onnx");
  Touch("empty/1/other.onnx");
  std::vector<std::string> loaded;
  const auto catalog =
      ScanRepository(root_, [&](const std::string& path) -> StatusOr<std::shared_ptr<const engine::Model>> {
        loaded.push_back(fs::relative(path, root_).string());
        return InvalidArgument("cannot parse");
      });
  ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
  EXPECT_TRUE(catalog->empty()) << "a model that fails to load is skipped, not fatal";
  EXPECT_EQ(loaded, std::vector<std::string>{"good/1/model.onnx"}) << "only <name>/<positive version>/model.onnx";
}

TEST_F(ScanRepositoryTest, MissingRootIsAnError) {
  const auto catalog =
      ScanRepository(root_ / "absent", [](const std::string&) -> StatusOr<std::shared_ptr<const engine::Model>> {
        return Internal("must not be called");
      });
  EXPECT_EQ(catalog.status().code(), StatusCode::kNotFound);
  EXPECT_NE(catalog.status().message().find("absent is not a directory"), std::string::npos);
}

}  // namespace
}  // namespace fovea::server
