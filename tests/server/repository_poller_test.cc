// RepositoryPoller against a real folder and a fake loader: a file reading "classes N" loads as a model with N
// classes, anything else fails to load. Deterministic: Sync() is called by the tests, except in the thread test.

#include "server/models/repository_poller.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace fovea::server {
namespace {

namespace fs = std::filesystem;

constexpr auto kPollInterval = std::chrono::milliseconds(10);
constexpr auto kPollTimeout = std::chrono::seconds(10);

class RepositoryPollerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fovea-poller-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes `content` to <root>/<relative> the way users should: a temporary name in the same folder, then rename.
  void WriteAtomically(const fs::path& relative, const std::string& content) {
    const fs::path target = root_ / relative;
    fs::create_directories(target.parent_path());
    const fs::path temporary = target.parent_path() / ".model.onnx.tmp";
    std::ofstream(temporary, std::ios::binary) << content;
    fs::rename(temporary, target);
  }

  // The fake loader: "classes N" → a model with N classes, "throw" → an exception; also records every path it was asked
  // to load.
  VersionLoader FakeLoader() {
    // The file says "classes N" (or "throw"); a load request's config, when given, says "classes N" instead of it.
    return [this](const std::string& name, int64_t version, const std::string& path,
                  const std::string& config_json) -> StatusOr<std::shared_ptr<const ServedModel>> {
      loads_.push_back(fs::relative(path, root_).string());
      if (on_load_) on_load_();
      std::ifstream file(path);
      std::istringstream config(config_json);
      std::istream& source = config_json.empty() ? static_cast<std::istream&>(file) : config;
      std::string word;
      int64_t classes = 0;
      if (source >> word && word == "throw") throw std::runtime_error("loader blew up");
      if (!(source >> classes) || word != "classes") return InvalidArgument("cannot parse " + path);
      auto served = std::make_shared<ServedModel>();
      served->name = name;
      served->version = version;
      served->num_classes = classes;
      return std::shared_ptr<const ServedModel>(std::move(served));
    };
  }

  std::unique_ptr<RepositoryPoller> MakePoller(const std::string& policy) {
    StatusOr<VersionPolicy> parsed = ParseVersionPolicy(policy);
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    return std::make_unique<RepositoryPoller>(root_, *parsed, FakeLoader(), repository_);
  }

  // "v<version>:<classes>" for each served version of `name`, ascending, e.g. "v1:3 v2:5".
  std::string Served(const std::string& name) const {
    const std::shared_ptr<const ModelCatalog> catalog = repository_.Snapshot();
    const auto model = catalog->find(name);
    if (model == catalog->end()) return "";
    std::ostringstream out;
    for (const auto& [version, served] : model->second) {
      out << (out.tellp() > 0 ? " " : "") << "v" << version << ":" << served->num_classes;
    }
    return out.str();
  }

  fs::path root_;
  ModelRepository repository_;
  std::vector<std::string> loads_;
  std::function<void()> on_load_;
};

TEST_F(RepositoryPollerTest, SkipsBadFoldersAndModelsThatFailToLoad) {
  WriteAtomically("good/1/model.onnx", "not a model");
  WriteAtomically("good/notaversion/model.onnx", "classes 2");
  WriteAtomically("good/0/model.onnx", "classes 2");
  WriteAtomically(".hidden/1/model.onnx", "classes 2");
  WriteAtomically("empty/1/other.onnx", "classes 2");
  auto poller = MakePoller("all");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_TRUE(repository_.ready()) << "a repository with nothing loadable is still a loaded repository";
  EXPECT_TRUE(repository_.Snapshot()->empty()) << "a model that fails to load is skipped, not fatal";
  EXPECT_EQ(loads_, std::vector<std::string>{"good/1/model.onnx"}) << "only <name>/<positive version>/model.onnx";
}

TEST_F(RepositoryPollerTest, AModelsConfigPbtxtVersionPolicyOverridesTheServers) {
  for (const char* model : {"pinned", "plain"}) {
    for (int version = 1; version <= 3; ++version) {
      WriteAtomically(std::string(model) + "/" + std::to_string(version) + "/model.onnx", "classes 2");
    }
  }
  std::ofstream(root_ / "pinned" / "config.pbtxt") << "version_policy: { specific: { versions: [ 1, 2 ] } }\n";
  auto poller = MakePoller("latest:1");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("pinned"), "v1:2 v2:2");
  EXPECT_EQ(Served("plain"), "v3:2") << "the server's policy for a model without one";
}

TEST_F(RepositoryPollerTest, EditingTheConfigurationReloadsTheModel) {
  WriteAtomically("net/1/model.onnx", "classes 2");
  auto poller = MakePoller("latest:1");
  ASSERT_TRUE(poller->Sync().ok());
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(loads_.size(), 1u) << "an unchanged folder is not reloaded";
  std::ofstream(root_ / "net" / "config.pbtxt") << "max_batch_size: 4\n";
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(loads_.size(), 2u) << "a new config.pbtxt reloads the version";
}

TEST_F(RepositoryPollerTest, ALoadRequestsConfigReplacesTheFolderOnesUntilUnloadOrAPlainLoad) {
  WriteAtomically("net/1/model.onnx", "classes 2");
  auto poller = MakePoller("all");
  poller->ControlExplicitly({"net"});
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:2");
  ASSERT_TRUE(poller->Load("net", "classes 7").ok());
  EXPECT_EQ(Served("net"), "v1:7") << "the request's config is loaded";
  ASSERT_TRUE(poller->Load("net", "classes 7").ok());
  EXPECT_EQ(loads_.size(), 2u) << "the same config again reloads nothing";
  const Status broken = poller->Load("net", "nonsense");
  EXPECT_EQ(broken.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(broken.message().find("with the request's config"), std::string::npos) << broken.message();
  EXPECT_EQ(Served("net"), "v1:7") << "a config that fails leaves the one before in force";
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:7");
  ASSERT_TRUE(poller->Load("net").ok());
  EXPECT_EQ(Served("net"), "v1:2") << "a load without config goes back to the folder's";
  ASSERT_TRUE(poller->Load("net", "classes 5").ok());
  ASSERT_TRUE(poller->Unload("net").ok());
  ASSERT_TRUE(poller->Load("net").ok());
  EXPECT_EQ(Served("net"), "v1:2") << "unloading forgets the request's config";
}

TEST_F(RepositoryPollerTest, EditingTheLabelsFileReloadsTheModelAndAVersionFolderDoesNot) {
  WriteAtomically("net/1/model.onnx", "classes 2");
  WriteAtomically("net/labels.txt", "cat\ndog\n");
  auto poller = MakePoller("all");
  ASSERT_TRUE(poller->Sync().ok());
  ASSERT_EQ(loads_.size(), 1u);
  WriteAtomically("net/labels.txt", "kitten\npuppy\n");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(loads_.size(), 2u) << "new labels reload the version";
  std::filesystem::create_directories(root_ / "net" / "notes");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(loads_.size(), 2u) << "a folder that is not a version changes nothing";
}

TEST_F(RepositoryPollerTest, MissingRootIsAnErrorAndLeavesTheRepositoryNotReady) {
  RepositoryPoller poller(root_ / "absent", {}, FakeLoader(), repository_);
  const Status status = poller.Sync();
  EXPECT_EQ(status.code(), StatusCode::kNotFound);
  EXPECT_NE(status.message().find("absent is not a directory"), std::string::npos) << status.message();
  EXPECT_FALSE(repository_.ready());
}

TEST_F(RepositoryPollerTest, LatestServesTheHighestVersionsThatLoad) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  WriteAtomically("net/2/model.onnx", "classes 2");
  WriteAtomically("net/3/model.onnx", "classes 3");
  WriteAtomically("net/4/model.onnx", "corrupt");
  ASSERT_TRUE(MakePoller("latest:1")->Sync().ok());
  EXPECT_EQ(Served("net"), "v3:3") << "version 4 is broken, so version 3 is the latest that serves";
  EXPECT_EQ(loads_, (std::vector<std::string>{"net/4/model.onnx", "net/3/model.onnx"})) << "1 and 2 never load";
  loads_.clear();
  ASSERT_TRUE(MakePoller("latest:2")->Sync().ok());
  EXPECT_EQ(Served("net"), "v2:2 v3:3");
}

TEST_F(RepositoryPollerTest, AllAndSpecificPolicies) {
  for (int version = 1; version <= 4; ++version) {
    WriteAtomically("net/" + std::to_string(version) + "/model.onnx", "classes " + std::to_string(version));
  }
  ASSERT_TRUE(MakePoller("all")->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:1 v2:2 v3:3 v4:4");
  ASSERT_TRUE(MakePoller("specific:3,1,7")->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:1 v3:3") << "7 does not exist; 2 and 4 are not listed";
}

TEST_F(RepositoryPollerTest, ANewVersionIsLoadedBeforeTheSwapAndTheOldOneIsReleasedAfterIt) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  auto poller = MakePoller("latest:1");
  ASSERT_TRUE(poller->Sync().ok());
  std::shared_ptr<const ServedModel> in_flight = *repository_.Find("net", 0);
  const std::weak_ptr<const ServedModel> old_version = in_flight;
  WriteAtomically("net/2/model.onnx", "classes 2");
  std::string served_while_loading;
  on_load_ = [&] { served_while_loading = Served("net"); };
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(served_while_loading, "v1:1") << "requests keep the old version while the new one loads";
  EXPECT_EQ(Served("net"), "v2:2");
  EXPECT_EQ((*repository_.Find("net", 0))->version, 2);
  EXPECT_EQ(repository_.Find("net", 1).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(in_flight->num_classes, 1) << "a request holding version 1 keeps it";
  in_flight.reset();
  EXPECT_TRUE(old_version.expired()) << "version 1 is freed when its last request ends";
}

TEST_F(RepositoryPollerTest, AChangedFileIsReloadedAndAnUnchangedOneIsNot) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  auto poller = MakePoller("latest:1");
  ASSERT_TRUE(poller->Sync().ok());
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(loads_.size(), 1U) << "an unchanged file is not loaded again";
  WriteAtomically("net/1/model.onnx", "classes 7");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:7");
  EXPECT_EQ(loads_.size(), 2U);
}

TEST_F(RepositoryPollerTest, ABrokenChangeKeepsTheOldCopyServingAndIsTriedOncePerChange) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  auto poller = MakePoller("latest:1");
  ASSERT_TRUE(poller->Sync().ok());
  WriteAtomically("net/1/model.onnx", "half-copied garbage");
  WriteAtomically("net/2/model.onnx", "also garbage");
  for (int pass = 0; pass < 3; ++pass) ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:1") << "neither broken file replaces the working copy";
  EXPECT_EQ(loads_, (std::vector<std::string>{"net/1/model.onnx", "net/2/model.onnx", "net/1/model.onnx"}))
      << "each broken state is tried (and logged) once, not on every pass";
  WriteAtomically("net/2/model.onnx", "classes 2");  // the copy finished
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("net"), "v2:2");
}

TEST_F(RepositoryPollerTest, ALoaderThatThrowsCountsAsABrokenFile) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  WriteAtomically("net/2/model.onnx", "throw");
  ASSERT_TRUE(MakePoller("latest:1")->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:1");
}

TEST_F(RepositoryPollerTest, RemovedVersionsAndModelsAreUnloaded) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  WriteAtomically("net/2/model.onnx", "classes 2");
  WriteAtomically("other/1/model.onnx", "classes 3");
  auto poller = MakePoller("all");
  ASSERT_TRUE(poller->Sync().ok());
  fs::remove_all(root_ / "net" / "2");
  fs::remove_all(root_ / "other");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("net"), "v1:1");
  EXPECT_EQ(repository_.Find("other", 0).status().code(), StatusCode::kNotFound);
}

TEST_F(RepositoryPollerTest, ARootThatDisappearsKeepsTheLastCatalog) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  const fs::path moved = root_.string() + "-moved";
  auto poller = MakePoller("latest:1");
  ASSERT_TRUE(poller->Sync().ok());
  fs::rename(root_, moved);
  EXPECT_EQ(poller->Sync().code(), StatusCode::kNotFound);
  EXPECT_EQ(Served("net"), "v1:1");
  fs::rename(moved, root_);
}

TEST_F(RepositoryPollerTest, TheBackgroundThreadPicksUpANewVersion) {
  WriteAtomically("net/1/model.onnx", "classes 1");
  auto poller = MakePoller("latest:1");
  ASSERT_TRUE(poller->Sync().ok());
  poller->Start(kPollInterval);
  WriteAtomically("net/5/model.onnx", "classes 5");
  const auto deadline = std::chrono::steady_clock::now() + kPollTimeout;
  while (Served("net") != "v5:5" && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(kPollInterval);
  }
  poller->Stop();
  EXPECT_EQ(Served("net"), "v5:5");
}

class VersionPolicyTest : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

// Each text parses to the canonical form given ("" = rejected).
TEST_P(VersionPolicyTest, ParsesTheThreeForms) {
  const auto [text, canonical] = GetParam();
  const StatusOr<VersionPolicy> policy = ParseVersionPolicy(text);
  if (std::string(canonical).empty()) {
    ASSERT_FALSE(policy.ok()) << text;
    EXPECT_EQ(policy.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(policy.status().message().find("latest:N"), std::string::npos) << policy.status().message();
  } else {
    ASSERT_TRUE(policy.ok()) << text << ": " << policy.status().ToString();
    EXPECT_EQ(VersionPolicyText(*policy), canonical);
  }
}

INSTANTIATE_TEST_SUITE_P(Texts, VersionPolicyTest,
                         ::testing::Values(std::pair{"latest:1", "latest:1"}, std::pair{"latest:3", "latest:3"},
                                           std::pair{"all", "all"}, std::pair{"specific:3,1,3", "specific:1,3"},
                                           std::pair{"specific:2", "specific:2"}, std::pair{"latest:0", ""},
                                           std::pair{"latest:", ""}, std::pair{"latest:x", ""},
                                           std::pair{"specific:", ""}, std::pair{"specific:1,,2", ""},
                                           std::pair{"specific:-1", ""}, std::pair{"newest", ""}, std::pair{"", ""}));

TEST_F(RepositoryPollerTest, ExplicitControlServesOnlyTheModelsLoadedByName) {
  WriteAtomically("a/1/model.onnx", "classes 1");
  WriteAtomically("b/1/model.onnx", "classes 2");
  WriteAtomically("bad/1/model.onnx", "corrupt");
  auto poller = MakePoller("all");
  EXPECT_EQ(poller->Load("b").code(), StatusCode::kFailedPrecondition) << "poll mode refuses load requests";
  poller->ControlExplicitly({"a"});
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("a"), "v1:1");
  EXPECT_EQ(Served("b"), "") << "not named at start-up";
  ASSERT_TRUE(poller->Load("b").ok());
  EXPECT_EQ(Served("b"), "v1:2");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("b"), "v1:2") << "a loaded model stays through later passes";

  const Status broken = poller->Load("bad");
  EXPECT_EQ(broken.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(broken.message(),
            "failed to load 'bad': model 'bad' version 1: cannot parse " + (root_ / "bad/1/model.onnx").string());
  EXPECT_EQ(poller->Load("missing").code(), StatusCode::kNotFound);
  // The index: what serves, what failed and why, and the folders not loaded.
  std::vector<std::string> rows;
  for (const IndexEntry& row : poller->Index()) {
    rows.push_back(row.name + ":" + std::to_string(row.version) + ":" + row.state + ":" + row.reason);
  }
  EXPECT_EQ(rows,
            (std::vector<std::string>{"a:1:READY:", "b:1:READY:",
                                      "bad:1:UNAVAILABLE:cannot parse " + (root_ / "bad/1/model.onnx").string()}));
  EXPECT_EQ(poller->Load("../a").code(), StatusCode::kInvalidArgument);

  ASSERT_TRUE(poller->Unload("a").ok());
  EXPECT_EQ(Served("a"), "");
  EXPECT_EQ(Served("b"), "v1:2");
  const Status again = poller->Unload("a");
  EXPECT_EQ(again.code(), StatusCode::kNotFound);
  EXPECT_EQ(again.message(), "model 'a' is not loaded");
  ASSERT_TRUE(poller->Sync().ok());
  EXPECT_EQ(Served("a"), "") << "an unloaded model is not picked up again by a pass";
}

}  // namespace
}  // namespace fovea::server
