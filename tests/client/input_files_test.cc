#include "client/input_files.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fovea::client {
namespace {

namespace fs = std::filesystem;

const std::string kPngHead = "\x89PNG\r\n\x1a\n rest";
const std::string kJpegHead = "\xFF\xD8\xFF\xE0 rest";

class InputFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fovea-inputs-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    Write("b.png", kPngHead);
    Write("a/z.jpg", kJpegHead);
    Write("a/deep/y.png", kPngHead);
    Write("a/notes.txt", "text");
    Write("a/fake.png", "not really a png");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& relative, const std::string& bytes) {
    fs::create_directories((root_ / relative).parent_path());
    std::ofstream(root_ / relative, std::ios::binary) << bytes;
  }
  std::string Path(const std::string& relative) const { return (root_ / relative).string(); }
  fs::path root_;
};

std::vector<std::string> Paths(const InputList& list) {
  std::vector<std::string> paths;
  for (const InputFile& file : list.files) paths.push_back(file.path);
  return paths;
}

TEST_F(InputFilesTest, FoldersAreWalkedRecursivelySortedAndNonImagesCounted) {
  const InputList list = ExpandInputs({Path("a")});
  EXPECT_EQ(Paths(list), (std::vector<std::string>{Path("a/deep/y.png"), Path("a/z.jpg")}));
  EXPECT_EQ(list.skipped_non_images, 2) << "notes.txt and fake.png (judged by content, not name)";
}

TEST_F(InputFilesTest, NamedFilesAreAlwaysInputsAndEachPathAppearsOnce) {
  const InputList list = ExpandInputs({Path("a/notes.txt"), Path("b.png"), Path("b.png"), Path("a/deep")});
  EXPECT_EQ(Paths(list), (std::vector<std::string>{Path("a/notes.txt"), Path("b.png"), Path("a/deep/y.png")}));
  for (const InputFile& file : list.files) EXPECT_EQ(file.error, "");
}

TEST_F(InputFilesTest, GlobsExpandAndMissingPathsCarryAnError) {
  const InputList list = ExpandInputs({Path("*.png"), Path("missing.png"), Path("*.gif")});
  ASSERT_EQ(list.files.size(), 3U);
  EXPECT_EQ(list.files[0].path, Path("b.png"));
  EXPECT_EQ(list.files[1].error, "no such file or folder");
  EXPECT_EQ(list.files[2].error, "no file matches this pattern");
}

TEST_F(InputFilesTest, ImageDetectionUsesMagicBytes) {
  EXPECT_TRUE(LooksLikeImageFile(Path("b.png")));
  EXPECT_TRUE(LooksLikeImageFile(Path("a/z.jpg")));
  EXPECT_FALSE(LooksLikeImageFile(Path("a/fake.png")));
  EXPECT_FALSE(LooksLikeImageFile(Path("nonexistent")));
}

}  // namespace
}  // namespace fovea::client
