// Localize through the real fovea-server: CAM, Grad-CAM and dense maps on the bundled Fashion-MNIST model, the CLI,
// and every bad input the RPC must refuse with a clear error while it keeps serving.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "client/fovea_client.h"
#include "tests/integration/png_fixtures.h"
#include "tests/integration/server_process.h"

namespace fovea::testing {
namespace {

constexpr char kBundled[] = "fashion-mnist";
constexpr char kFlatHead[] = "flathead";  // conv/maxpool/flatten/gemm: no GAP, so no CAM
constexpr int64_t kClasses = 10;
constexpr int kWindow = 28;
constexpr int kNaturalStride = 4;
constexpr int kFeatureCells = 7;  // the bundled model's last feature map is 7x7
constexpr uint32_t kSceneWidth = 100;
constexpr uint32_t kSceneHeight = 72;
constexpr float kProbabilitySumTolerance = 1e-4f;

// A black canvas with two bright shapes: a 12x22 bar and a 20x14 block.
std::string ScenePng(uint32_t width = kSceneWidth, uint32_t height = kSceneHeight) {
  return MakePng(width, height, 8, PngColor::kGray, [](uint32_t x, uint32_t y, uint32_t) -> uint16_t {
    const bool bar = x >= 10 && x < 22 && y >= 8 && y < 30;
    const bool block = x >= 60 && x < 80 && y >= 40 && y < 54;
    return bar || block ? 220 : 0;
  });
}

// PNG width and height from the IHDR chunk (bytes 16..23, big-endian).
std::pair<uint32_t, uint32_t> PngSize(const std::string& png) {
  const auto at = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<uint8_t>(png[i])) << 24 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[i + 1])) << 16 |
           static_cast<uint32_t>(static_cast<uint8_t>(png[i + 2])) << 8 | static_cast<uint8_t>(png[i + 3]);
  };
  return png.size() < 24 ? std::pair<uint32_t, uint32_t>{0, 0} : std::pair{at(16), at(20)};
}

class LocalizeTest : public ::testing::Test {
 protected:
  // One server for the suite: the bundled model and the flat-head test model in a repository of their own.
  static void SetUpTestSuite() {
    repository_ = MakeTempDir();
    namespace fs = std::filesystem;
    fs::create_directories(repository_ + "/" + kBundled + "/1");
    fs::copy_file(FOVEA_BUNDLED_MODEL, repository_ + "/" + kBundled + "/1/model.onnx");
    fs::copy(TestDataDir() + "/localize-models/" + kFlatHead, repository_ + "/" + kFlatHead,
             fs::copy_options::recursive);
    server_ = ServerProcess::Start({"--model-repository", repository_}).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    std::filesystem::remove_all(repository_);
  }

  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    client_ = client::FoveaClient::Connect(server_->address());
  }

  static v1::LocalizeRequest Request(const std::string& model, v1::LocalizationMethod method,
                                     const std::string& png = ScenePng()) {
    v1::LocalizeRequest request;
    request.set_model_name(model);
    request.set_method(method);
    request.mutable_image()->set_encoded(png);
    request.set_render_overlays(true);
    return request;
  }

  v1::LocalizeResponse LocalizeOk(const v1::LocalizeRequest& request) {
    v1::LocalizeResponse response;
    const grpc::Status status = client_->Localize(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // The call's status code, with its message checked to contain `mention`.
  grpc::StatusCode LocalizeError(const v1::LocalizeRequest& request, const std::string& mention) {
    v1::LocalizeResponse response;
    const grpc::Status status = client_->Localize(request, &response);
    EXPECT_NE(std::string::npos, status.error_message().find(mention)) << status.error_message();
    return status.error_code();
  }

  static void ExpectDetectionsInsideImage(const v1::LocalizeResponse& response) {
    for (int i = 0; i < response.detections_size(); ++i) {
      const v1::Box& box = response.detections(i).box();
      EXPECT_GE(box.x_min(), 0);
      EXPECT_GE(box.y_min(), 0);
      EXPECT_LE(box.x_max(), response.image_width());
      EXPECT_LE(box.y_max(), response.image_height());
      EXPECT_LT(box.x_min(), box.x_max());
      if (i > 0) {
        EXPECT_LE(response.detections(i).score(), response.detections(i - 1).score());
      }
    }
  }

  static std::string repository_;
  static ServerProcess* server_;
  std::unique_ptr<client::FoveaClient> client_;
};

std::string LocalizeTest::repository_;
ServerProcess* LocalizeTest::server_ = nullptr;

TEST_F(LocalizeTest, DenseMapsEveryWindowAtTheNaturalStride) {
  const v1::LocalizeResponse response = LocalizeOk(Request(kBundled, v1::LOCALIZATION_METHOD_DENSE));
  EXPECT_EQ(v1::LOCALIZATION_METHOD_DENSE, response.method());
  EXPECT_EQ(static_cast<int>(kSceneWidth), response.image_width());
  EXPECT_EQ(0, response.predictions_size());
  ASSERT_EQ(kClasses, response.heatmaps_size());  // the bundled model has no background class
  const int cols = (kSceneWidth - kWindow) / kNaturalStride + 1, rows = (kSceneHeight - kWindow) / kNaturalStride + 1;
  std::vector<double> sums(static_cast<size_t>(rows * cols), 0.0);
  for (const v1::Heatmap& heatmap : response.heatmaps()) {
    EXPECT_EQ(cols, heatmap.width());
    EXPECT_EQ(rows, heatmap.height());
    EXPECT_EQ(kNaturalStride, heatmap.stride_x());
    EXPECT_EQ(kWindow / 2, heatmap.offset_x());
    EXPECT_EQ(kWindow, heatmap.window_width());
    ASSERT_EQ(rows * cols, heatmap.values_size());
    for (int i = 0; i < heatmap.values_size(); ++i) sums[static_cast<size_t>(i)] += heatmap.values(i);
    EXPECT_EQ((std::pair{kSceneWidth, kSceneHeight}), PngSize(heatmap.overlay_png()));
  }
  // Every cell is one softmax over the classes.
  for (double sum : sums) EXPECT_NEAR(1.0, sum, kProbabilitySumTolerance);
  ExpectDetectionsInsideImage(response);
}

TEST_F(LocalizeTest, DenseStridesDivideOrMultiplyTheNaturalOne) {
  for (int stride : {1, 2, 8}) {
    v1::LocalizeRequest request = Request(kBundled, v1::LOCALIZATION_METHOD_DENSE);
    request.set_stride(stride);
    request.add_class_indices(3);
    request.set_render_overlays(false);
    const v1::LocalizeResponse response = LocalizeOk(request);
    ASSERT_EQ(1, response.heatmaps_size());
    EXPECT_EQ(static_cast<int>((kSceneWidth - kWindow) / stride + 1), response.heatmaps(0).width()) << stride;
    EXPECT_EQ(stride, response.heatmaps(0).stride_x());
    EXPECT_TRUE(response.heatmaps(0).overlay_png().empty());
  }
}

TEST_F(LocalizeTest, CamMapsTheTopClassOverTheWholeImage) {
  const v1::LocalizeResponse response = LocalizeOk(Request(kBundled, v1::LOCALIZATION_METHOD_UNSPECIFIED));
  EXPECT_EQ(v1::LOCALIZATION_METHOD_CAM, response.method());  // the bundled model has a GAP head
  ASSERT_EQ(5, response.predictions_size());
  ASSERT_EQ(1, response.heatmaps_size());
  const v1::Heatmap& heatmap = response.heatmaps(0);
  EXPECT_EQ(response.predictions(0).class_index(), heatmap.class_index());
  EXPECT_EQ(kFeatureCells, heatmap.width());
  EXPECT_FLOAT_EQ(static_cast<float>(kSceneWidth) / kFeatureCells, heatmap.stride_x());
  float max = 0;
  for (float v : heatmap.values()) {
    EXPECT_GE(v, 0.0f);
    max = std::max(max, v);
  }
  EXPECT_FLOAT_EQ(1.0f, max);
  EXPECT_EQ((std::pair{kSceneWidth, kSceneHeight}), PngSize(heatmap.overlay_png()));
  ASSERT_GE(response.detections_size(), 1);  // the peak of a normalized map is 1, above the default threshold
  ExpectDetectionsInsideImage(response);
}

TEST_F(LocalizeTest, GradCamWorksWhereCamCannot) {
  v1::LocalizeRequest request = Request(kFlatHead, v1::LOCALIZATION_METHOD_UNSPECIFIED);
  request.add_class_indices(2);
  request.add_class_indices(7);
  const v1::LocalizeResponse response = LocalizeOk(request);
  EXPECT_EQ(v1::LOCALIZATION_METHOD_GRAD_CAM, response.method());
  ASSERT_EQ(2, response.heatmaps_size());
  EXPECT_EQ(2, response.heatmaps(0).class_index());
  EXPECT_EQ(7, response.heatmaps(1).class_index());
  EXPECT_EQ(kWindow, response.heatmaps(0).width());  // the flat-head model's last conv keeps 28x28

  const v1::LocalizeResponse bundled = LocalizeOk(Request(kBundled, v1::LOCALIZATION_METHOD_GRAD_CAM));
  ASSERT_EQ(1, bundled.heatmaps_size());
  EXPECT_EQ(kFeatureCells, bundled.heatmaps(0).width());
}

TEST_F(LocalizeTest, GradCamExplainsANamedLayerFromTheRpcAndTheCli) {
  v1::LocalizeRequest request = Request(kBundled, v1::LOCALIZATION_METHOD_UNSPECIFIED);
  request.set_layer("maxpool4");  // a value: the first max pooling's 14x14 output
  const v1::LocalizeResponse pooled = LocalizeOk(request);
  EXPECT_EQ(v1::LOCALIZATION_METHOD_GRAD_CAM, pooled.method());  // a layer means Grad-CAM, though CAM is possible
  ASSERT_EQ(1, pooled.heatmaps_size());
  EXPECT_EQ(kWindow / 2, pooled.heatmaps(0).width());
  request.set_layer("conv1");  // a node: its output, the first convolution's (BatchNorm and ReLU fused) 28x28 map
  const v1::LocalizeResponse first = LocalizeOk(request);
  ASSERT_EQ(1, first.heatmaps_size());
  EXPECT_EQ(kWindow, first.heatmaps(0).width());

  request.set_layer("conv9");
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(request, "layer 'conv9' is neither a value"));
  request.set_layer("bn6");
  request.set_method(v1::LOCALIZATION_METHOD_CAM);
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(request, "applies to GRAD_CAM only"));

  const std::string dir = MakeTempDir();
  const std::string scene = dir + "/scene.png";
  std::ofstream(scene, std::ios::binary) << ScenePng();
  const CommandResult result = RunCli({"localize", "--server", server_->address(), "--model", kBundled, "--layer",
                                       "maxpool4", "--classes", "1", "--out", dir + "/out", scene});
  EXPECT_EQ(0, result.exit_code) << result.err;
  EXPECT_NE(std::string::npos, result.out.find(scene + ": LOCALIZATION_METHOD_GRAD_CAM")) << result.out;
  std::filesystem::remove_all(dir);
}

TEST_F(LocalizeTest, BadInputsGetClearErrorsAndTheServerKeepsServing) {
  v1::LocalizeRequest unknown_class = Request(kBundled, v1::LOCALIZATION_METHOD_DENSE);
  unknown_class.add_class_indices(kClasses);
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(unknown_class, "class index 10 is outside [0, 10)"));

  v1::LocalizeRequest negative_stride = Request(kBundled, v1::LOCALIZATION_METHOD_DENSE);
  negative_stride.set_stride(-4);
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(negative_stride, "stride -4 is negative"));

  v1::LocalizeRequest odd_stride = Request(kBundled, v1::LOCALIZATION_METHOD_DENSE);
  odd_stride.set_stride(3);
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(odd_stride, "natural stride is 4"));

  const v1::LocalizeRequest small = Request(kBundled, v1::LOCALIZATION_METHOD_DENSE, ScenePng(20, 40));
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(small, "smaller than the model's 28x28 input"));

  const v1::LocalizeRequest large = Request(kBundled, v1::LOCALIZATION_METHOD_DENSE, ScenePng(1100, 1000));
  EXPECT_EQ(grpc::StatusCode::RESOURCE_EXHAUSTED, LocalizeError(large, "over the dense-map limit"));

  EXPECT_EQ(grpc::StatusCode::FAILED_PRECONDITION,
            LocalizeError(Request(kFlatHead, v1::LOCALIZATION_METHOD_CAM), "GlobalAveragePool"));

  v1::LocalizeRequest not_an_image = Request(kBundled, v1::LOCALIZATION_METHOD_CAM, "not a png");
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(not_an_image, "image"));

  v1::LocalizeRequest bad_threshold = Request(kBundled, v1::LOCALIZATION_METHOD_CAM);
  bad_threshold.set_score_threshold(1.5f);
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(bad_threshold, "score_threshold"));

  EXPECT_EQ(grpc::StatusCode::NOT_FOUND, LocalizeError(Request("nope", v1::LOCALIZATION_METHOD_CAM), "nope"));

  LocalizeOk(Request(kBundled, v1::LOCALIZATION_METHOD_DENSE));
}

TEST_F(LocalizeTest, CliWritesOverlaysAndDetectionsAndReportsEveryInput) {
  const std::string dir = MakeTempDir();
  const std::string scene = dir + "/scene.png";
  std::ofstream(scene, std::ios::binary) << ScenePng();
  const std::string out = dir + "/out";
  const CommandResult result = RunCli({"localize", "--server", server_->address(), "--model", kBundled, "--method",
                                       "dense", "--classes", "1,8", "--out", out, scene, dir + "/missing.png"});
  EXPECT_EQ(1, result.exit_code) << result.err;  // one input failed
  EXPECT_NE(std::string::npos, result.out.find(scene + ": LOCALIZATION_METHOD_DENSE")) << result.out;
  EXPECT_NE(std::string::npos, result.out.find("missing.png: ERROR NOT_FOUND")) << result.out;
  EXPECT_TRUE(std::filesystem::exists(out + "/scene.1-Trouser.png"));
  EXPECT_TRUE(std::filesystem::exists(out + "/scene.8-Bag.png"));
  std::ifstream json_file(out + "/detections.json");
  const std::string json((std::istreambuf_iterator<char>(json_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(std::string::npos, json.find("\"method\": \"LOCALIZATION_METHOD_DENSE\""));
  EXPECT_NE(std::string::npos, json.find("\"code\": \"NOT_FOUND\""));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace fovea::testing
