// IDX reader: gzipped and plain files round-trip; corrupt, truncated and mismatched files fail with the file name.

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>

#include "trainer/dataset.h"
#include "trainer/dataset_idx.h"

namespace fovea::trainer {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> IdxBytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> bytes = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (const uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(d >> shift));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

class IdxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fovea_idx_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WritePlain(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    return path;
  }
  std::string WriteGzip(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string path = (dir_ / name).string();
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return path;
  }

  fs::path dir_;
};

// Two 2x3 images with labels 1 and 0.
const std::vector<uint8_t> kPixels = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};

TEST_F(IdxTest, ReadsGzippedAndPlainFiles) {
  const auto images = WriteGzip("images.gz", IdxBytes({2, 2, 3}, kPixels));
  const auto labels = WritePlain("labels", IdxBytes({2}, {1, 0}));
  auto dataset = LoadIdxDataset(images, labels, {"zero", "one"});
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->size(), 2);
  EXPECT_EQ(dataset->height, 2);
  EXPECT_EQ(dataset->width, 3);
  EXPECT_EQ(dataset->labels, (std::vector<int32_t>{1, 0}));
  EXPECT_EQ(dataset->image(1)[0], 10);
}

TEST_F(IdxTest, BadMagicNamesTheFile) {
  const auto path = WritePlain("bogus", {'P', 'K', 3, 4, 0, 0, 0, 1, 7});
  auto result = ReadIdxFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find(path), std::string::npos);
  EXPECT_NE(result.status().message().find("not an IDX file"), std::string::npos);
}

TEST_F(IdxTest, TruncatedDataIsDataLoss) {
  auto bytes = IdxBytes({2, 2, 3}, kPixels);
  bytes.resize(bytes.size() - 4);
  const auto path = WriteGzip("short.gz", bytes);
  auto result = ReadIdxFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(result.status().message().find("truncated"), std::string::npos);
  EXPECT_NE(result.status().message().find(path), std::string::npos);
}

TEST_F(IdxTest, CorruptCompressedStreamIsDataLoss) {
  const auto good = WriteGzip("good.gz", IdxBytes({2, 2, 3}, kPixels));
  std::ifstream in(good, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (size_t i = 12; i < bytes.size(); ++i) bytes[i] ^= 0x5a;  // keep the gzip header, scramble the deflate data
  const auto path = WritePlain("corrupt.gz", bytes);
  auto result = ReadIdxFile(path);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find(path), std::string::npos);
}

TEST_F(IdxTest, TrailingBytesAreRejected) {
  auto bytes = IdxBytes({2}, {1, 0});
  bytes.push_back(9);
  auto result = ReadIdxFile(WritePlain("long", bytes));
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("unexpected bytes"), std::string::npos);
}

TEST_F(IdxTest, CountMismatchNamesBothFiles) {
  const auto images = WritePlain("images", IdxBytes({2, 2, 3}, kPixels));
  const auto labels = WritePlain("labels", IdxBytes({3}, {1, 0, 1}));
  auto result = LoadIdxDataset(images, labels, {"zero", "one"});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find(images), std::string::npos);
  EXPECT_NE(result.status().message().find(labels), std::string::npos);
}

TEST_F(IdxTest, LabelOutOfRangeIsRejected) {
  const auto images = WritePlain("images", IdxBytes({2, 2, 3}, kPixels));
  const auto labels = WritePlain("labels", IdxBytes({2}, {1, 7}));
  auto result = LoadIdxDataset(images, labels, {"zero", "one"});
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("label 7"), std::string::npos);
}

TEST_F(IdxTest, MissingFileIsNotFound) {
  auto result = ReadIdxFile((dir_ / "absent.gz").string());
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kNotFound);
}

TEST(DatasetSplit, DeterministicAndDisjoint) {
  Dataset d;
  d.channels = d.height = d.width = 1;
  d.class_names = {"a", "b"};
  for (int i = 0; i < 100; ++i) {
    d.pixels.push_back(static_cast<uint8_t>(i));
    d.labels.push_back(i % 2);
  }
  auto first = SplitValidation(d, 0.2, 42);
  auto second = SplitValidation(d, 0.2, 42);
  auto other = SplitValidation(d, 0.2, 43);
  ASSERT_TRUE(first.ok() && second.ok() && other.ok());
  EXPECT_EQ(first->validation.size(), 20);
  EXPECT_EQ(first->train.size(), 80);
  EXPECT_EQ(first->validation.pixels, second->validation.pixels);
  EXPECT_NE(first->validation.pixels, other->validation.pixels);
  for (const uint8_t v : first->validation.pixels) {
    EXPECT_EQ(std::count(first->train.pixels.begin(), first->train.pixels.end(), v), 0);
  }
}

TEST(DatasetSplit, ShuffleIsAPermutation) {
  auto order = ShuffledIndices(1000, 7);
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(order, sorted);
}

}  // namespace
}  // namespace fovea::trainer
