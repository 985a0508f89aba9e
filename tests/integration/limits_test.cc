// The size limits, each configured on the real server and crossed by one request: images per request, pixels per
// image, and a message over gRPC's own 4 MB default, which the server and the client library accept by default.

#include <gtest/gtest.h>

#include "client/fovea_client.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

constexpr int kGrpcDefaultMessageBytes = 4 << 20;
constexpr uint32_t kNoisySide = 1500;  // a noise PNG this size barely compresses: about 2.2 MB
constexpr int kNoisyImages = 3;

// A gray PNG of hashed noise, which deflate cannot shrink much.
std::string NoisyPng(uint32_t side, uint32_t seed) {
  return MakePng(side, side, 8, PngColor::kGray, [seed](uint32_t x, uint32_t y, uint32_t) {
    uint32_t h = (x * 73856093U) ^ (y * 19349663U) ^ (seed * 83492791U);
    h ^= h >> 13;
    h *= 0x5bd1e995U;
    return static_cast<uint16_t>((h ^ (h >> 15)) & 0xFFU);
  });
}

grpc::Status Classify(const ServerProcess& server, const v1::ClassifyRequest& request, v1::ClassifyResponse* response) {
  return client::FoveaClient::Connect(server.address())->Classify(request, response);
}

TEST(LimitsTest, MoreImagesThanMaxImagesPerRequestFailTheCall) {
  auto server = ServerProcess::Start({"--max-images-per-request", "2"});
  ASSERT_NE(server, nullptr);
  v1::ClassifyRequest request = TinyRequest();
  for (int i = 0; i < 2; ++i) *request.add_images() = EncodedImage(GrayPng(kTinySize, i));
  v1::ClassifyResponse response;
  ASSERT_TRUE(Classify(*server, request, &response).ok());
  EXPECT_EQ(response.results_size(), 2);
  *request.add_images() = EncodedImage(GrayPng(kTinySize, 2));
  const grpc::Status status = Classify(*server, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("3 images"), std::string::npos) << status.error_message();
}

TEST(LimitsTest, AnImageOverMaxImagePixelsFailsAloneBeforeDecoding) {
  auto server = ServerProcess::Start({"--max-image-pixels", "1000"});
  ASSERT_NE(server, nullptr);
  v1::ClassifyRequest request = TinyRequest();
  *request.add_images() = EncodedImage(GrayPng(kTinySize, 0), "small");  // 784 pixels
  *request.add_images() = EncodedImage(GrayPng(32, 0), "large");         // 1024 pixels
  v1::ClassifyResponse response;
  ASSERT_TRUE(Classify(*server, request, &response).ok());
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_FALSE(response.results(0).has_error());
  ASSERT_TRUE(response.results(1).has_error());
  EXPECT_EQ(response.results(1).error().code(), static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED));
  EXPECT_NE(response.results(1).error().message().find("32x32"), std::string::npos)
      << response.results(1).error().message();
}

TEST(LimitsTest, MessagesOverFourMegabytesPassWithTheDefaults) {
  auto server = ServerProcess::Start();
  ASSERT_NE(server, nullptr);
  v1::ClassifyRequest request = TinyRequest();
  for (int i = 0; i < kNoisyImages; ++i) *request.add_images() = EncodedImage(NoisyPng(kNoisySide, i));
  ASSERT_GT(request.ByteSizeLong(), static_cast<size_t>(kGrpcDefaultMessageBytes));
  v1::ClassifyResponse response;
  const grpc::Status status = Classify(*server, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.results_size(), kNoisyImages);
  for (const v1::ImageResult& result : response.results()) EXPECT_FALSE(result.has_error()) << result.error().message();
}

}  // namespace
}  // namespace fovea::testing
