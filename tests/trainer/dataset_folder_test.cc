// Image-folder datasets (PNG files per class folder, decoded by imageio) and the generated background class.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "imageio/image.h"
#include "trainer/background.h"
#include "trainer/dataset_folder.h"

namespace fovea::trainer {
namespace {

namespace fs = std::filesystem;

class FolderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("fovea_folder_test_" + std::to_string(::getpid()));
    fs::create_directories(root_ / "bird");
    fs::create_directories(root_ / "cat");
  }
  void TearDown() override { fs::remove_all(root_); }

  // Writes a 4x2 RGB PNG whose every pixel is (value, value, value).
  void WritePng(const fs::path& path, uint8_t value) {
    imageio::Image image{4, 2, 3, std::vector<uint8_t>(size_t{4 * 2 * 3}, value)};
    auto png = imageio::EncodePng(image);
    ASSERT_TRUE(png.ok());
    std::ofstream(path, std::ios::binary) << *png;
  }

  fs::path root_;
};

TEST_F(FolderTest, LoadsClassesInNameOrderResizedAndGray) {
  WritePng(root_ / "cat" / "a.png", 200);
  WritePng(root_ / "bird" / "x.PNG", 50);
  WritePng(root_ / "bird" / "y.png", 60);
  std::ofstream(root_ / "bird" / "notes.txt") << "not an image";
  auto dataset = LoadImageFolder(root_.string(), {1, 2, 2});
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->class_names, (std::vector<std::string>{"bird", "cat"}));
  EXPECT_EQ(dataset->labels, (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(dataset->image_elements(), 4);
  EXPECT_EQ(dataset->image(2)[0], 200);  // gray of a uniform gray RGB image, resized
  EXPECT_EQ(dataset->image(0)[3], 50);
}

TEST_F(FolderTest, CorruptImageErrorNamesTheFile) {
  WritePng(root_ / "cat" / "a.png", 200);
  std::ofstream(root_ / "bird" / "broken.png", std::ios::binary) << "\x89PNG\r\n\x1a\n garbage";
  auto dataset = LoadImageFolder(root_.string(), {1, 2, 2});
  ASSERT_FALSE(dataset.ok());
  EXPECT_NE(dataset.status().message().find("broken.png"), std::string::npos) << dataset.status().ToString();
}

TEST_F(FolderTest, EmptyClassFolderIsAnError) {
  WritePng(root_ / "cat" / "a.png", 200);
  auto dataset = LoadImageFolder(root_.string(), {1, 2, 2});
  ASSERT_FALSE(dataset.ok());
  EXPECT_NE(dataset.status().message().find("bird"), std::string::npos);
}

TEST(BackgroundClass, AddsEmptyNoiseAndPartialImagesDeterministically) {
  // One all-white "object" filling its window: what is visible of it in a background image is its pixel sum.
  Dataset d;
  d.channels = 1;
  d.height = d.width = 8;
  d.class_names = {"square"};
  d.pixels.assign(64, 255);
  d.labels = {0};
  Dataset again = d;
  constexpr int64_t kCount = 40;
  EXPECT_EQ(AddBackgroundClass(d, kCount, 9), 1);
  AddBackgroundClass(again, kCount, 9);
  EXPECT_EQ(d.pixels, again.pixels);
  ASSERT_EQ(d.size(), kCount + 1);
  EXPECT_EQ(d.class_names.back(), kBackgroundLabel);
  const auto visible = [&](int64_t i) {
    int64_t s = 0;
    for (const uint8_t v : d.image(i)) s += v;
    return static_cast<double>(s) / (64.0 * 255.0);
  };
  for (int64_t i = 1; i <= kCount; ++i) {
    switch ((i - 1) % 10) {
      case 0:  // empty canvas
        EXPECT_EQ(visible(i), 0.0) << i;
        break;
      case 1:  // noise
        EXPECT_GT(visible(i), 0.0) << i;
        break;
      case 2:
      case 5:
      case 8:  // a partial object: never more than the limit, so that NMS cannot keep it next to the item
        EXPECT_GT(visible(i), 0.0) << i;
        EXPECT_LE(visible(i), kMaxVisibleFraction) << i;
        break;
      case 3:
      case 6:  // the facing parts of two items
        EXPECT_GT(visible(i), 0.0) << i;
        EXPECT_LE(visible(i), 2 * kMaxVisibleFraction) << i;
        break;
      default:  // fragments
        EXPECT_GT(visible(i), 0.0) << i;
        EXPECT_LT(visible(i), 1.0) << i;
    }
  }
}

}  // namespace
}  // namespace fovea::trainer
