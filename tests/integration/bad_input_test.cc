// Each bad input of the Classify/GetModel API is answered with the right code and a message naming the problem, and
// the server keeps serving afterwards.

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "client/fovea_client.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

// Small limits so that the size tests send little data.
constexpr char kMaxMessageBytes[] = "1MiB";
constexpr size_t kMaxImageBytes = size_t{256} << 10;
constexpr int kHugeSide = 60000;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerProcess::Start(
        {"--max-message-bytes", kMaxMessageBytes, "--max-image-bytes", std::to_string(kMaxImageBytes)});
    ASSERT_NE(server_, nullptr);
    client_ = client::FoveaClient::Connect(server_->address());
  }

  // After every bad input: the server still answers health checks and classifies a good image.
  void TearDown() override {
    if (server_ == nullptr) return;
    grpc::health::v1::HealthCheckResponse::ServingStatus serving{};
    EXPECT_TRUE(client_->CheckHealth("", &serving).ok());
    EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::SERVING);
    v1::ClassifyRequest request = TinyRequest();
    *request.add_images() = EncodedImage(GrayPng(kTinySize, 0));
    v1::ClassifyResponse response;
    ASSERT_TRUE(client_->Classify(request, &response).ok()) << server_->Log();
    EXPECT_FALSE(response.results(0).has_error());
  }

  // Expects the whole call to fail with `code` and a message containing `fragment`.
  void ExpectCallError(const v1::ClassifyRequest& request, grpc::StatusCode code, const std::string& fragment) {
    v1::ClassifyResponse response;
    const grpc::Status status = client_->Classify(request, &response);
    EXPECT_EQ(status.error_code(), code) << status.error_message();
    EXPECT_NE(status.error_message().find(fragment), std::string::npos) << status.error_message();
  }

  // Sends `bad` between two good images; expects `bad` alone to fail with `code` and `fragment` in its message.
  void ExpectImageError(const v1::ImageInput& bad, grpc::StatusCode code, const std::string& fragment) {
    v1::ClassifyRequest request = TinyRequest();
    *request.add_images() = EncodedImage(GrayPng(kTinySize, 1), "good-before");
    *request.add_images() = bad;
    *request.add_images() = EncodedImage(GrayPng(kTinySize, 2), "good-after");
    v1::ClassifyResponse response;
    const grpc::Status status = client_->Classify(request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.results_size(), 3);
    EXPECT_FALSE(response.results(0).has_error());
    EXPECT_FALSE(response.results(2).has_error());
    EXPECT_EQ(response.results(0).predictions_size(), 5);
    ASSERT_TRUE(response.results(1).has_error());
    EXPECT_EQ(response.results(1).error().code(), static_cast<int>(code)) << response.results(1).error().message();
    EXPECT_NE(response.results(1).error().message().find(fragment), std::string::npos)
        << response.results(1).error().message();
    EXPECT_NE(response.results(1).error().message().find("image 1"), std::string::npos) << "names which image";
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<client::FoveaClient> client_;
};

v1::ImageInput Tensor(v1::DataType dtype, std::vector<int64_t> shape, std::string data) {
  v1::ImageInput image;
  image.mutable_tensor()->set_dtype(dtype);
  for (int64_t dim : shape) image.mutable_tensor()->add_shape(dim);
  image.mutable_tensor()->set_data(std::move(data));
  return image;
}

std::string FloatBytes(std::vector<float> values) {
  return {reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)};
}

TEST_F(BadInputTest, EmptyRequest) {
  ExpectCallError(v1::ClassifyRequest(), grpc::StatusCode::INVALID_ARGUMENT, "model name is empty");
}

TEST_F(BadInputTest, NoImages) { ExpectCallError(TinyRequest(), grpc::StatusCode::INVALID_ARGUMENT, "no images"); }

TEST_F(BadInputTest, TruncatedPng) {
  const std::string png = GrayPng(kTinySize, 3);
  ExpectImageError(EncodedImage(png.substr(0, png.size() / 2)), grpc::StatusCode::INVALID_ARGUMENT, "truncated");
}

TEST_F(BadInputTest, NonImageBytes) {
  ExpectImageError(EncodedImage("%PDF-1.7 definitely not a picture"), grpc::StatusCode::INVALID_ARGUMENT,
                   "not a PNG or JPEG");
}

TEST_F(BadInputTest, EmptyImage) {
  ExpectImageError(v1::ImageInput(), grpc::StatusCode::INVALID_ARGUMENT, "neither encoded bytes nor a tensor");
}

TEST_F(BadInputTest, PngHeaderClaimingSixtyThousandSquaredIsRejectedBeforeAllocation) {
  ExpectImageError(EncodedImage(MakePngWithHugeHeader(kHugeSide, kHugeSide)), grpc::StatusCode::RESOURCE_EXHAUSTED,
                   "PNG header claims 60000x60000");
}

TEST_F(BadInputTest, ImageOverTheByteLimit) {
  ExpectImageError(EncodedImage(GrayPng(kTinySize, 4) + std::string(kMaxImageBytes, '\0')),
                   grpc::StatusCode::RESOURCE_EXHAUSTED, "over the limit");
}

TEST_F(BadInputTest, TensorWithWrongByteCount) {
  ExpectImageError(Tensor(v1::DATA_TYPE_UINT8, {kTinySize, kTinySize, 1}, std::string(100, '\0')),
                   grpc::StatusCode::INVALID_ARGUMENT, "tensor data has 100 bytes");
  ExpectImageError(Tensor(v1::DATA_TYPE_FLOAT32, {1, kTinySize, kTinySize}, std::string(kTinySize * kTinySize, '\0')),
                   grpc::StatusCode::INVALID_ARGUMENT, "needs 3136 bytes");
}

TEST_F(BadInputTest, TensorWithWrongDtypeOrShape) {
  ExpectImageError(Tensor(v1::DATA_TYPE_UNSPECIFIED, {kTinySize, kTinySize, 1}, std::string(784, '\0')),
                   grpc::StatusCode::INVALID_ARGUMENT, "dtype 0 is not supported");
  ExpectImageError(Tensor(static_cast<v1::DataType>(42), {kTinySize, kTinySize, 1}, std::string(784, '\0')),
                   grpc::StatusCode::INVALID_ARGUMENT, "dtype 42");
  ExpectImageError(Tensor(v1::DATA_TYPE_FLOAT32, {3, kTinySize, kTinySize}, FloatBytes(std::vector<float>(3 * 784))),
                   grpc::StatusCode::INVALID_ARGUMENT, "[1, 28, 28]");
  ExpectImageError(Tensor(v1::DATA_TYPE_UINT8, {kTinySize, -kTinySize, 1}, ""), grpc::StatusCode::INVALID_ARGUMENT,
                   "shape");
}

TEST_F(BadInputTest, NanInFloatTensor) {
  std::vector<float> values(kTinySize * kTinySize, 0.5F);
  values[123] = std::numeric_limits<float>::quiet_NaN();
  ExpectImageError(Tensor(v1::DATA_TYPE_FLOAT32, {1, kTinySize, kTinySize}, FloatBytes(values)),
                   grpc::StatusCode::INVALID_ARGUMENT, "element 123 is NaN");
}

TEST_F(BadInputTest, UnknownModel) {
  v1::ClassifyRequest request = TinyRequest();
  request.set_model_name("nosuchmodel");
  *request.add_images() = EncodedImage(GrayPng(kTinySize, 5));
  ExpectCallError(request, grpc::StatusCode::NOT_FOUND, "model 'nosuchmodel' not found; served models: rgb, tiny");
  v1::GetModelResponse response;
  EXPECT_EQ(client_->GetModel("nosuchmodel", 0, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BadInputTest, UnknownVersion) {
  v1::ClassifyRequest request = TinyRequest();
  request.set_model_version(7);
  *request.add_images() = EncodedImage(GrayPng(kTinySize, 5));
  ExpectCallError(request, grpc::StatusCode::NOT_FOUND, "has no version 7; loaded versions: 1, 2");
  v1::GetModelResponse response;
  EXPECT_EQ(client_->GetModel("tiny", 7, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(BadInputTest, TopKOutOfRange) {
  for (int top_k : {0, -1, kTinyClasses + 1}) {
    v1::ClassifyRequest request = TinyRequest();
    request.set_top_k(top_k);
    *request.add_images() = EncodedImage(GrayPng(kTinySize, 5));
    ExpectCallError(request, grpc::StatusCode::INVALID_ARGUMENT,
                    "top_k " + std::to_string(top_k) + " is outside [1, 10]");
  }
}

TEST_F(BadInputTest, ModelNameWithPathTricks) {
  for (const char* name : {"../tiny", "tiny/../rgb", "/etc/passwd", ".hidden"}) {
    v1::ClassifyRequest request = TinyRequest();
    request.set_model_name(name);
    *request.add_images() = EncodedImage(GrayPng(kTinySize, 5));
    ExpectCallError(request, grpc::StatusCode::INVALID_ARGUMENT, "is invalid");
    v1::GetModelResponse response;
    EXPECT_EQ(client_->GetModel(name, 0, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
  }
}

TEST_F(BadInputTest, RequestOverTheMessageSizeLimit) {
  v1::ClassifyRequest request = TinyRequest();
  for (int i = 0; i < 8; ++i) *request.add_images() = EncodedImage(std::string(kMaxImageBytes - 1, 'x'));
  v1::ClassifyResponse response;
  const grpc::Status status = client_->Classify(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_NE(status.error_message().find("larger than max"), std::string::npos) << status.error_message();
}

}  // namespace
}  // namespace fovea::testing
