// Decode failures: truncated files, non-image bytes, zero and oversized dimensions. Each must be InvalidArgument with
// a message naming the problem, and oversized headers must be refused before any pixel buffer is allocated.

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <string>
#include <vector>

#include "imageio/image.h"
#include "tests/imageio/test_encoders.h"

namespace fovea::imageio {
namespace {

constexpr uint32_t kNoiseSize = 64;
constexpr uint32_t kHugeSide = 60000;
// Refusing a header is a few hundred microseconds of work; allocating 10.8 GB would take far longer or fail.
constexpr auto kHeaderRejectBudget = std::chrono::milliseconds(100);
constexpr long kMaxPeakRssGrowthKib = 64L * 1024;

// Expects Decode to fail with InvalidArgument and a message containing every string in `fragments`.
void ExpectDecodeError(const std::vector<uint8_t>& bytes, const std::vector<std::string>& fragments,
                       const DecodeLimits& limits = {}, StatusCode code = StatusCode::kInvalidArgument) {
  const StatusOr<Image> decoded = Decode(bytes, limits);
  ASSERT_FALSE(decoded.ok()) << "decoded " << decoded->width << "x" << decoded->height;
  EXPECT_EQ(decoded.status().code(), code);
  for (const std::string& fragment : fragments) {
    EXPECT_NE(decoded.status().message().find(fragment), std::string::npos)
        << "message \"" << decoded.status().message() << "\" lacks \"" << fragment << "\"";
  }
}

// Noise compresses badly, so the IDAT is large and a cut in the middle of the file lands inside the image data.
std::vector<uint8_t> NoisePng() {
  testing::PngSpec spec = testing::MakePngSpec(kNoiseSize, kNoiseSize, 8, testing::kRgb);
  uint32_t state = 12345;
  for (uint32_t i = 0; i < kNoiseSize * kNoiseSize * 3; ++i) {
    state = state * 1103515245u + 12345u;
    spec.samples.push_back(static_cast<uint16_t>((state >> 16) & 0xFF));
  }
  return testing::WritePng(spec);
}

long PeakRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

TEST(DecodeErrorsTest, GarbageBytesAreNotAnImage) {
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  ExpectDecodeError(gif, {"not a PNG or JPEG image", "first bytes 47 49 46 38 39 61 01 00", "10 bytes"});
}

TEST(DecodeErrorsTest, EmptyInputIsAnError) { ExpectDecodeError({}, {"empty"}); }

TEST(DecodeErrorsTest, TruncatedPngInsideImageData) {
  std::vector<uint8_t> png = NoisePng();
  ASSERT_TRUE(Decode(png).ok());
  png.resize(png.size() / 2);
  ExpectDecodeError(png, {"truncated PNG", std::to_string(png.size()) + " bytes"});
}

TEST(DecodeErrorsTest, TruncatedPngInsideHeader) {
  std::vector<uint8_t> png = NoisePng();
  png.resize(20);
  ExpectDecodeError(png, {"truncated PNG"});
}

TEST(DecodeErrorsTest, PngWithBadChunkCrcIsCorrupt) {
  std::vector<uint8_t> png = NoisePng();
  png[png.size() - 13] ^= 0xFF;  // last byte of the IDAT chunk's CRC (IEND is the final 12 bytes)
  ExpectDecodeError(png, {"corrupt PNG", "checksum"});
}

TEST(DecodeErrorsTest, HugePngHeaderIsRefusedQuicklyWithoutAllocating) {
  const std::vector<uint8_t> png = testing::PngHeaderOnly(kHugeSide, kHugeSide);
  const long rss_before = PeakRssKib();
  const auto start = std::chrono::steady_clock::now();
  ExpectDecodeError(png, {"PNG header claims 60000x60000", "3.6 Gpixel", "above the limit of 67.1 Mpixel"}, {},
                    StatusCode::kResourceExhausted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kHeaderRejectBudget);
  EXPECT_LT(PeakRssKib() - rss_before, kMaxPeakRssGrowthKib);
}

TEST(DecodeErrorsTest, PngWiderThanTheLimitNamesTheWidth) {
  ExpectDecodeError(testing::PngHeaderOnly(20000, 10), {"20000x10", "width above the limit of 16384"}, {},
                    StatusCode::kResourceExhausted);
}

TEST(DecodeErrorsTest, PngAboveCallerPixelLimit) {
  const DecodeLimits limits{.max_pixels = 10000};
  ExpectDecodeError(testing::PngHeaderOnly(300, 300), {"300x300 = 90.0 kpixel", "limit of 10.0 kpixel"}, limits,
                    StatusCode::kResourceExhausted);
}

TEST(DecodeErrorsTest, PngWithZeroWidth) { ExpectDecodeError(testing::PngHeaderOnly(0, 10), {"PNG header", "width"}); }

TEST(DecodeErrorsTest, EncodedSizeAboveLimit) {
  const DecodeLimits limits{.max_encoded_bytes = 100};
  const std::vector<uint8_t> png = NoisePng();
  ExpectDecodeError(png, {std::to_string(png.size()) + " bytes", "limit of 100"}, limits,
                    StatusCode::kResourceExhausted);
}

TEST(DecodeErrorsTest, TruncatedJpeg) {
  std::vector<uint8_t> pixels(size_t{kNoiseSize} * kNoiseSize * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 131 % 251);
  std::vector<uint8_t> jpeg = testing::WriteJpeg(pixels, kNoiseSize, kNoiseSize, testing::JpegInput::kRgb, 90);
  ASSERT_TRUE(Decode(jpeg).ok());
  jpeg.resize(jpeg.size() / 2);
  ExpectDecodeError(jpeg, {"truncated JPEG", std::to_string(jpeg.size()) + " bytes"});
  jpeg.resize(12);
  ExpectDecodeError(jpeg, {"JPEG"});
}

// Offset of the baseline frame header (SOF0 marker FF C0) in a JPEG written by libjpeg.
size_t FindStartOfFrame(const std::vector<uint8_t>& jpeg) {
  size_t sof = 2;
  while (sof + 9 < jpeg.size() && !(jpeg[sof] == 0xFF && jpeg[sof + 1] == 0xC0)) ++sof;
  return sof;
}

TEST(DecodeErrorsTest, JpegWithUnsupportedPrecisionIsRejected) {
  std::vector<uint8_t> jpeg =
      testing::WriteJpeg(std::vector<uint8_t>(size_t{8} * 8, 128), 8, 8, testing::JpegInput::kGray, 90);
  const size_t sof = FindStartOfFrame(jpeg);
  ASSERT_LT(sof + 9, jpeg.size());
  jpeg[sof + 4] = 12;  // sample precision: 12-bit JPEG, which an 8-bit libjpeg cannot decode
  ExpectDecodeError(jpeg, {"corrupt or unsupported JPEG", "precision 12"});
}

TEST(DecodeErrorsTest, HugeJpegHeaderIsRefusedBeforeDecompressing) {
  std::vector<uint8_t> jpeg =
      testing::WriteJpeg(std::vector<uint8_t>(size_t{8} * 8, 128), 8, 8, testing::JpegInput::kGray, 90);
  // Patch the baseline frame header (FF C0, length, precision, height, width) to claim 60000x60000.
  const size_t sof = FindStartOfFrame(jpeg);
  ASSERT_LT(sof + 9, jpeg.size());
  for (size_t offset : {sof + 5, sof + 7}) {
    jpeg[offset] = static_cast<uint8_t>(kHugeSide >> 8);
    jpeg[offset + 1] = static_cast<uint8_t>(kHugeSide & 0xFF);
  }
  const auto start = std::chrono::steady_clock::now();
  ExpectDecodeError(jpeg, {"JPEG header claims 60000x60000", "3.6 Gpixel"}, {}, StatusCode::kResourceExhausted);
  EXPECT_LT(std::chrono::steady_clock::now() - start, kHeaderRejectBudget);
}

TEST(DecodeErrorsTest, JpegWithThousandsOfScansIsRefused) {
  constexpr int kRepeats = 600;
  std::vector<uint8_t> pixels(size_t{kNoiseSize} * kNoiseSize, 0);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i % 61 * 4);
  std::vector<uint8_t> jpeg = testing::WriteJpeg(pixels, kNoiseSize, kNoiseSize, testing::JpegInput::kGray, 90, true);
  ASSERT_TRUE(Decode(jpeg).ok());
  // Repeat the last scan (its SOS marker up to the EOI marker) the way a decompression-bomb file does.
  size_t last_scan = jpeg.size() - 2;
  while (last_scan > 0 && !(jpeg[last_scan] == 0xFF && jpeg[last_scan + 1] == 0xDA)) --last_scan;
  ASSERT_GT(last_scan, 0u);
  const std::vector<uint8_t> scan(jpeg.begin() + static_cast<std::ptrdiff_t>(last_scan), jpeg.end() - 2);
  for (int r = 0; r < kRepeats; ++r) jpeg.insert(jpeg.end() - 2, scan.begin(), scan.end());
  ExpectDecodeError(jpeg, {"corrupt or unsupported JPEG", "more than 500 progressive scans"});
}

// Flips random bytes and cuts at random lengths: every result must be a clean error or a consistent image, never a
// crash, an exit() from libjpeg or a mis-sized buffer.
TEST(DecodeErrorsTest, RandomlyCorruptedFilesFailCleanly) {
  constexpr int kTrialsPerFormat = 300;
  constexpr int kMaxFlips = 4;
  std::vector<uint8_t> pixels(size_t{kNoiseSize} * kNoiseSize * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * i) % 253);
  const std::vector<std::vector<uint8_t>> originals = {
      NoisePng(), testing::WriteJpeg(pixels, kNoiseSize, kNoiseSize, testing::JpegInput::kRgb, 80)};
  uint32_t state = 2024;
  auto next = [&state](uint32_t bound) {
    state = state * 1664525u + 1013904223u;
    return (state >> 8) % bound;
  };
  for (const std::vector<uint8_t>& original : originals) {
    for (int trial = 0; trial < kTrialsPerFormat; ++trial) {
      std::vector<uint8_t> bytes = original;
      const int flips = 1 + static_cast<int>(next(kMaxFlips));
      for (int f = 0; f < flips; ++f) bytes[next(static_cast<uint32_t>(bytes.size()))] ^= 1u << next(8);
      if (trial % 2 == 1) bytes.resize(next(static_cast<uint32_t>(bytes.size())) + 1);
      const StatusOr<Image> decoded = Decode(bytes);
      if (!decoded.ok()) {
        EXPECT_EQ(decoded.status().code(), StatusCode::kInvalidArgument) << decoded.status().ToString();
        continue;
      }
      EXPECT_EQ(decoded->pixels.size(), static_cast<size_t>(decoded->width * decoded->height * decoded->channels));
    }
  }
}

}  // namespace
}  // namespace fovea::imageio
