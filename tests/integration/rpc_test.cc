// Every RPC of fovea.v1.Inference and grpc.health.v1.Health against the real fovea-server, through the client library.

#include <gtest/gtest.h>

#include <condition_variable>
#include <csignal>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <google/protobuf/descriptor.pb.h>

#include "client/fovea_client.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

constexpr float kSameResultTolerance = 1e-4F;
constexpr float kTinyMean = 0.5F;  // fovea.input.mean/std of the tiny test model
constexpr float kTinyStd = 0.25F;

class RpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = ServerProcess::Start();
    ASSERT_NE(server_, nullptr);
    client_ = client::FoveaClient::Connect(server_->address());
  }

  v1::ClassifyResponse ClassifyOk(const v1::ClassifyRequest& request) {
    v1::ClassifyResponse response;
    const grpc::Status status = client_->Classify(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.results_size(), request.images_size());
    return response;
  }

  // Classifies one image with the tiny model and returns its result (top_k = all classes).
  v1::ImageResult ClassifyOne(const v1::ImageInput& image) {
    v1::ClassifyRequest request = TinyRequest();
    request.set_top_k(kTinyClasses);
    *request.add_images() = image;
    v1::ClassifyResponse response = ClassifyOk(request);
    return response.results_size() == 1 ? response.results(0) : v1::ImageResult();
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<client::FoveaClient> client_;
};

void ExpectSamePredictions(const v1::ImageResult& a, const v1::ImageResult& b) {
  ASSERT_FALSE(a.has_error()) << a.error().message();
  ASSERT_FALSE(b.has_error()) << b.error().message();
  ASSERT_EQ(a.predictions_size(), b.predictions_size());
  for (int i = 0; i < a.predictions_size(); ++i) {
    EXPECT_EQ(a.predictions(i).class_index(), b.predictions(i).class_index()) << "rank " << i;
    EXPECT_NEAR(a.predictions(i).probability(), b.predictions(i).probability(), kSameResultTolerance) << "rank " << i;
  }
}

TEST_F(RpcTest, HealthIsServing) {
  grpc::health::v1::HealthCheckResponse::ServingStatus serving{};
  ASSERT_TRUE(client_->CheckHealth("", &serving).ok());
  EXPECT_EQ(serving, grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(RpcTest, ListModelsShowsLoadableModelsAndSkipsTheBrokenOne) {
  v1::ListModelsResponse response;
  ASSERT_TRUE(client_->ListModels(&response).ok());
  ASSERT_EQ(response.models_size(), 2);
  EXPECT_EQ(response.models(0).name(), "rgb");
  EXPECT_EQ(response.models(1).name(), "tiny");
  EXPECT_EQ(std::vector<int64_t>(response.models(1).versions().begin(), response.models(1).versions().end()),
            (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(response.models(1).latest_version(), 2);
  EXPECT_NE(server_->Log().find("broken"), std::string::npos) << "the skipped model should be logged";
}

TEST_F(RpcTest, GetModelDescribesLabelsInputAndVersions) {
  v1::GetModelResponse response;
  ASSERT_TRUE(client_->GetModel("tiny", 0, &response).ok());
  EXPECT_EQ(response.version(), 2);
  EXPECT_EQ(response.versions_size(), 2);
  EXPECT_EQ(response.num_classes(), kTinyClasses);
  ASSERT_EQ(response.labels_size(), kTinyClasses);
  EXPECT_EQ(response.labels(3), "three");
  EXPECT_EQ(response.input().channels(), 1);
  EXPECT_EQ(response.input().height(), kTinySize);
  EXPECT_EQ(response.input().width(), kTinySize);
  ASSERT_EQ(response.input().mean_size(), 1);
  EXPECT_FLOAT_EQ(response.input().mean(0), kTinyMean);
  EXPECT_EQ(response.metadata().at("fovea.input.height"), "28");
  // One padded 3x3 convolution before the global pooling: cells one pixel apart, each reading one pixel beyond its
  // window on every side.
  ASSERT_TRUE(response.has_dense());
  EXPECT_EQ(response.dense().window_width(), kTinySize);
  EXPECT_EQ(response.dense().window_height(), kTinySize);
  EXPECT_EQ(response.dense().natural_stride(), 1);
  EXPECT_EQ(response.dense().context_left(), 1);
  EXPECT_EQ(response.dense().context_top(), 1);
  EXPECT_EQ(response.dense().context_right(), 1);
  EXPECT_EQ(response.dense().context_bottom(), 1);
  EXPECT_EQ(response.dense().max_image_pixels(), int64_t{1} << 20);  // --max-dense-pixels' default

  v1::GetModelResponse first;
  ASSERT_TRUE(client_->GetModel("tiny", 1, &first).ok());
  EXPECT_EQ(first.version(), 1);
}

TEST_F(RpcTest, ClassifyReturnsSortedProbabilitiesWithLabels) {
  v1::ClassifyRequest request = TinyRequest();
  *request.add_images() = EncodedImage(GrayPng(kTinySize, 1), "first");
  const v1::ClassifyResponse response = ClassifyOk(request);
  EXPECT_EQ(response.model_name(), "tiny");
  EXPECT_EQ(response.model_version(), 2);
  const v1::ImageResult& result = response.results(0);
  EXPECT_EQ(result.id(), "first");
  ASSERT_EQ(result.predictions_size(), 5) << "default top_k is min(5, classes)";
  const std::vector<std::string> digits = {"zero", "one", "two",   "three", "four",
                                           "five", "six", "seven", "eight", "nine"};
  for (int i = 0; i < result.predictions_size(); ++i) {
    const v1::Prediction& prediction = result.predictions(i);
    EXPECT_EQ(prediction.label(), digits.at(static_cast<size_t>(prediction.class_index())));
    EXPECT_GE(prediction.probability(), 0.0F);
    EXPECT_LE(prediction.probability(), 1.0F);
    if (i > 0) {
      EXPECT_GE(result.predictions(i - 1).probability(), prediction.probability());
    }
  }
}

TEST_F(RpcTest, ProbabilitiesOfAllClassesSumToOneForSoftmaxAndLogitModels) {
  for (int64_t version : {1, 2}) {  // version 1 ends in Softmax, version 2 outputs logits
    v1::ClassifyRequest request = TinyRequest();
    request.set_model_version(version);
    request.set_top_k(kTinyClasses);
    *request.add_images() = EncodedImage(GrayPng(kTinySize, 2));
    const v1::ClassifyResponse response = ClassifyOk(request);
    EXPECT_EQ(response.model_version(), version);
    float sum = 0;
    for (const v1::Prediction& prediction : response.results(0).predictions()) sum += prediction.probability();
    EXPECT_NEAR(sum, 1.0F, 1e-4F) << "version " << version;
  }
}

TEST_F(RpcTest, BatchedImagesGetTheSameAnswerAsSingleOnesInInputOrder) {
  const v1::ImageResult single_a = ClassifyOne(EncodedImage(GrayPng(kTinySize, 3)));
  const v1::ImageResult single_b = ClassifyOne(EncodedImage(GrayPng(kTinySize, 4)));
  v1::ClassifyRequest request = TinyRequest();
  request.set_top_k(kTinyClasses);
  *request.add_images() = EncodedImage(GrayPng(kTinySize, 3), "a");
  *request.add_images() = EncodedImage("garbage", "bad");
  *request.add_images() = EncodedImage(GrayPng(kTinySize, 4), "b");
  const v1::ClassifyResponse response = ClassifyOk(request);
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).id(), "a");
  EXPECT_EQ(response.results(1).id(), "bad");
  EXPECT_EQ(response.results(2).id(), "b");
  EXPECT_TRUE(response.results(1).has_error());
  ExpectSamePredictions(response.results(0), single_a);
  ExpectSamePredictions(response.results(2), single_b);
}

TEST_F(RpcTest, StartedClassifyCallsAnswerLikeBlockingOnesAndReportErrors) {
  // Eight calls in flight at once, each with its own image; every completion runs on a gRPC thread.
  constexpr int kCalls = 8;
  std::vector<v1::ClassifyRequest> requests(kCalls, TinyRequest());
  std::vector<v1::ClassifyResponse> responses(kCalls);
  std::vector<grpc::Status> statuses(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    requests[i].set_top_k(kTinyClasses);
    *requests[i].add_images() = EncodedImage(GrayPng(kTinySize, 10 + i));
  }
  v1::ClassifyRequest unknown_model = TinyRequest();
  unknown_model.set_model_name("no-such-model");
  *unknown_model.add_images() = EncodedImage(GrayPng(kTinySize, 1));
  v1::ClassifyResponse unknown_response;
  grpc::Status unknown_status;

  std::mutex mutex;
  std::condition_variable all_done;
  int pending = kCalls + 1;
  const auto finish = [&](grpc::Status* into) {
    return [&, into](grpc::Status status) {
      std::lock_guard lock(mutex);
      *into = std::move(status);
      if (--pending == 0) all_done.notify_one();
    };
  };
  for (int i = 0; i < kCalls; ++i) client_->StartClassify(requests[i], &responses[i], finish(&statuses[i]));
  client_->StartClassify(unknown_model, &unknown_response, finish(&unknown_status));
  {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(all_done.wait_for(lock, std::chrono::seconds(30), [&] { return pending == 0; }));
  }

  for (int i = 0; i < kCalls; ++i) {
    SCOPED_TRACE("call " + std::to_string(i));
    ASSERT_TRUE(statuses[i].ok()) << statuses[i].error_message();
    ASSERT_EQ(responses[i].results_size(), 1);
    ExpectSamePredictions(responses[i].results(0), ClassifyOk(requests[i]).results(0));
  }
  EXPECT_EQ(unknown_status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(unknown_status.error_message().find("no-such-model"), std::string::npos) << unknown_status.error_message();
}

TEST_F(RpcTest, EncodedPixelTensorAndFloatTensorAgree) {
  const v1::ImageResult encoded = ClassifyOne(EncodedImage(GrayPng(kTinySize, 5)));
  v1::ImageInput pixels;
  v1::ImageInput floats;
  pixels.mutable_tensor()->set_dtype(v1::DATA_TYPE_UINT8);
  floats.mutable_tensor()->set_dtype(v1::DATA_TYPE_FLOAT32);
  for (int64_t dim : {kTinySize, kTinySize, 1}) pixels.mutable_tensor()->add_shape(dim);
  for (int64_t dim : {1, kTinySize, kTinySize}) floats.mutable_tensor()->add_shape(dim);
  std::string pixel_bytes;
  std::vector<float> values;
  for (uint32_t y = 0; y < kTinySize; ++y) {
    for (uint32_t x = 0; x < kTinySize; ++x) {
      pixel_bytes.push_back(static_cast<char>(Pattern(x, y, 5)));
      values.push_back((static_cast<float>(Pattern(x, y, 5)) / 255.0F - kTinyMean) / kTinyStd);
    }
  }
  pixels.mutable_tensor()->set_data(pixel_bytes);
  floats.mutable_tensor()->set_data(values.data(), values.size() * sizeof(float));
  ExpectSamePredictions(ClassifyOne(pixels), encoded);
  ExpectSamePredictions(ClassifyOne(floats), encoded);
}

TEST_F(RpcTest, SixteenBitPngMatchesItsEightBitTwin) {
  const std::string png16 = MakePng(kTinySize, kTinySize, 16, PngColor::kGray, [](uint32_t x, uint32_t y, uint32_t) {
    return static_cast<uint16_t>(Pattern(x, y, 6) * 257);  // 257 maps 8-bit v to 16-bit v.v exactly
  });
  ExpectSamePredictions(ClassifyOne(EncodedImage(png16)), ClassifyOne(EncodedImage(GrayPng(kTinySize, 6))));
}

TEST_F(RpcTest, RgbaPaletteGrayAlphaAndLargerImagesAreAccepted) {
  const auto rgba = MakePng(kTinySize, kTinySize, 8, PngColor::kRgba, [](uint32_t x, uint32_t y, uint32_t c) {
    return static_cast<uint16_t>(c == 3 ? 255 : Pattern(x, y, 7));
  });
  const auto palette = MakePng(kTinySize, kTinySize, 8, PngColor::kPalette,
                               [](uint32_t x, uint32_t y, uint32_t) { return Pattern(x, y, 7); });
  const auto gray_alpha =
      MakePng(kTinySize, kTinySize, 16, PngColor::kGrayAlpha, [](uint32_t x, uint32_t y, uint32_t c) {
        return static_cast<uint16_t>(c == 1 ? 65535 : Pattern(x, y, 7) * 257);
      });
  const v1::ImageResult gray = ClassifyOne(EncodedImage(GrayPng(kTinySize, 7)));
  // Opaque RGBA with equal R, G, B has luma equal to that gray value, and the palette is a gray ramp.
  ExpectSamePredictions(ClassifyOne(EncodedImage(rgba)), gray);
  ExpectSamePredictions(ClassifyOne(EncodedImage(palette)), gray);
  ExpectSamePredictions(ClassifyOne(EncodedImage(gray_alpha)), gray);
  const v1::ImageResult larger = ClassifyOne(EncodedImage(GrayPng(3 * kTinySize, 8)));
  EXPECT_FALSE(larger.has_error()) << larger.error().message();
  EXPECT_EQ(larger.predictions_size(), kTinyClasses);
}

TEST_F(RpcTest, JpegAndGrayImagesFeedTheRgbModel) {
  std::ifstream file(TestDataDir() + "/images/sample.jpg", std::ios::binary);
  std::ostringstream jpeg;
  jpeg << file.rdbuf();
  v1::ClassifyRequest request;
  request.set_model_name("rgb");
  *request.add_images() = EncodedImage(jpeg.str(), "jpeg");
  *request.add_images() = EncodedImage(GrayPng(40, 9), "gray");
  const v1::ClassifyResponse response = ClassifyOk(request);
  for (const v1::ImageResult& result : response.results()) {
    EXPECT_FALSE(result.has_error()) << result.id() << ": " << result.error().message();
    EXPECT_EQ(result.predictions_size(), 3) << result.id();
  }
}

TEST_F(RpcTest, StopsWithExitZeroOnSigtermAndSigint) {
  EXPECT_EQ(server_->StopWith(SIGTERM), 0) << server_->Log();
  EXPECT_NE(server_->Log().find("stopped"), std::string::npos);
  auto second = ServerProcess::Start();
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->StopWith(SIGINT), 0) << second->Log();
}

TEST(ShutdownTest, InFlightRequestFinishesBeforeTheServerExits) {
  auto server = ServerProcess::Start({"--log-level", "debug", "--threads", "1"});
  ASSERT_NE(server, nullptr);
  // Large images make the request take a while to decode, so SIGTERM lands while it is in flight.
  constexpr int kImages = 200;
  constexpr uint32_t kSide = 1024;
  v1::ClassifyRequest request = TinyRequest();
  const std::string png = GrayPng(kSide, 1);
  for (int i = 0; i < kImages; ++i) *request.add_images() = EncodedImage(png);
  v1::ClassifyResponse response;
  grpc::Status status;
  std::thread call([&] { status = client::FoveaClient::Connect(server->address())->Classify(request, &response); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (server->Log().find("Classify started") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(server->StopWith(SIGTERM), 0) << server->Log();
  call.join();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.results_size(), kImages);
  const std::string log = server->Log();
  EXPECT_LT(log.find("received signal"), log.find("Classify OK")) << "the call finished during the drain:\n" << log;
}

TEST_F(RpcTest, ReflectionListsEveryServiceAndDescribesTheApi) {
  namespace reflection = grpc::reflection::v1alpha;
  const auto stub = reflection::ServerReflection::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = stub->ServerReflectionInfo(&context);
  reflection::ServerReflectionRequest list;
  list.set_list_services("");
  reflection::ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("fovea.v1.Inference");
  ASSERT_TRUE(stream->Write(list));
  ASSERT_TRUE(stream->Write(symbol));
  stream->WritesDone();

  reflection::ServerReflectionResponse services;
  ASSERT_TRUE(stream->Read(&services));
  std::set<std::string> names;
  for (const auto& service : services.list_services_response().service()) names.insert(service.name());
  for (const char* name : {"fovea.v1.Inference", "inference.GRPCInferenceService", "grpc.health.v1.Health",
                           "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
  reflection::ServerReflectionResponse file;
  ASSERT_TRUE(stream->Read(&file));
  ASSERT_GT(file.file_descriptor_response().file_descriptor_proto_size(), 0) << file.DebugString();
  google::protobuf::FileDescriptorProto descriptor;
  ASSERT_TRUE(descriptor.ParseFromString(file.file_descriptor_response().file_descriptor_proto(0)));
  EXPECT_EQ(descriptor.name(), "fovea/v1/inference.proto");
  ASSERT_EQ(descriptor.service_size(), 1);
  EXPECT_EQ(descriptor.service(0).method_size(), 4);  // Classify, ListModels, GetModel, Localize
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(RpcTest, LogsCarryARequestId) {
  v1::ListModelsResponse response;
  ASSERT_TRUE(client_->ListModels(&response).ok());
  const std::string log = server_->Log();
  const size_t line = log.find("ListModels OK");
  ASSERT_NE(line, std::string::npos) << log;
  const size_t open = log.rfind('[', line);
  ASSERT_NE(open, std::string::npos);
  EXPECT_EQ(log.find(']', open) - open - 1, 16U) << "a 16-hex-digit request id in brackets";
}

}  // namespace
}  // namespace fovea::testing
