// Localize SEGMENTATION through the real fovea-server: a known-answer segmentation model (tests/integration/
// make_test_models.py, "segmenter") gives probability maps at image resolution and one box per region, and the methods
// of one kind of model are refused on the other. The PyTorch comparison on LR-ASPP is tests/zoo/segmentation_maps.py.

#include <gtest/gtest.h>

#include <filesystem>

#include "client/fovea_client.h"
#include "tests/integration/localize_calls.h"
#include "tests/integration/png_fixtures.h"
#include "tests/integration/server_process.h"

namespace fovea::testing {
namespace {

constexpr char kSegmenter[] = "segmenter";  // [1, 3, 16, 16] maps of background, bright, dark for a 32x32 input
constexpr char kClassifier[] = "flathead";  // a 10-class classifier, for the refusals

// A black image of `width` x `height` (large ones are refused before any work, so their content does not matter).
std::string ScenePng(uint32_t width, uint32_t height) {
  return MakePng(width, height, 8, PngColor::kGray, [](uint32_t, uint32_t, uint32_t) -> uint16_t { return 0; });
}

class LocalizeSegmentationTest : public ::testing::Test {
 protected:
  // One server for the suite with the segmenter and a classifier in a repository of their own.
  static void SetUpTestSuite() {
    repository_ = MakeTempDir();
    for (const char* model : {kSegmenter, kClassifier}) {
      std::filesystem::copy(TestDataDir() + "/localize-models/" + model, repository_ + "/" + model,
                            std::filesystem::copy_options::recursive);
    }
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

  static v1::LocalizeRequest Request(const std::string& model, v1::LocalizationMethod method, const std::string& png) {
    v1::LocalizeRequest request = LocalizeRequestFor(model, method, png);
    request.set_map_format(v1::HEATMAP_FORMAT_FLOAT);
    return request;
  }

  v1::LocalizeResponse LocalizeOk(const v1::LocalizeRequest& request) { return testing::LocalizeOk(*client_, request); }
  grpc::StatusCode LocalizeError(const v1::LocalizeRequest& request, const std::string& mention) {
    return testing::LocalizeError(*client_, request, mention);
  }

  static inline std::string repository_;
  static inline ServerProcess* server_ = nullptr;
  std::unique_ptr<client::FoveaClient> client_;
};

// Mid-gray with a white 16x12 rectangle at (8, 4) and a black 12x20 one at (36, 28), in a 64x64 image (twice the
// segmenter's input, so its 16x16 output cells are 4x4 pixels and the rectangles' edges fall on cell edges).
std::string SegmentationScenePng() {
  return MakePng(64, 64, 8, PngColor::kGray, [](uint32_t x, uint32_t y, uint32_t) -> uint16_t {
    if (x >= 8 && x < 24 && y >= 4 && y < 16) return 255;
    if (x >= 36 && x < 48 && y >= 28 && y < 48) return 0;
    return 128;
  });
}

TEST_F(LocalizeSegmentationTest, SegmentationMapsAreProbabilitiesAtImageResolutionWithABoxPerRegion) {
  constexpr int64_t kBright = 1, kDark = 2;
  constexpr float kEdgeTolerance = 2.0f;  // bilinear reading of 4-pixel cells blurs an edge by up to half a cell
  v1::LocalizeRequest request = Request(kSegmenter, v1::LOCALIZATION_METHOD_UNSPECIFIED, SegmentationScenePng());
  const v1::LocalizeResponse response = LocalizeOk(request);
  EXPECT_EQ(v1::LOCALIZATION_METHOD_SEGMENTATION, response.method());
  EXPECT_EQ(0, response.predictions_size()) << "a segmentation model has no whole-image classification";
  ASSERT_EQ(2, response.heatmaps_size()) << "the two classes that win cells, background left out";
  // The dark rectangle covers more cells (15) than the bright one (12): it comes first.
  EXPECT_EQ(kDark, response.heatmaps(0).class_index());
  EXPECT_EQ("dark", response.heatmaps(0).label());
  EXPECT_EQ(kBright, response.heatmaps(1).class_index());
  for (const v1::Heatmap& heatmap : response.heatmaps()) {
    EXPECT_EQ(64, heatmap.width());
    EXPECT_EQ(64, heatmap.height());
    EXPECT_FLOAT_EQ(1.0f, heatmap.stride_x());
    EXPECT_EQ((std::pair{64U, 64U}), PngSize(heatmap.overlay_png()));
    for (float v : heatmap.values()) {
      ASSERT_GE(v, 0.0f);
      ASSERT_LE(v, 1.0f);
    }
  }
  // Inside the bright rectangle, away from its edges, "bright" is near certain; in the gray, near impossible.
  const v1::Heatmap& bright = response.heatmaps(1);
  EXPECT_GT(bright.values(10 * 64 + 16), 0.99f);
  EXPECT_LT(bright.values(40 * 64 + 10), 0.01f);
  ASSERT_EQ(2, response.detections_size());
  for (const v1::Detection& detection : response.detections()) {
    const bool is_bright = detection.class_index() == kBright;
    const float x_min = is_bright ? 8 : 36, y_min = is_bright ? 4 : 28;
    const float x_max = is_bright ? 24 : 48, y_max = is_bright ? 16 : 48;
    EXPECT_NEAR(x_min, detection.box().x_min(), kEdgeTolerance) << detection.label();
    EXPECT_NEAR(y_min, detection.box().y_min(), kEdgeTolerance) << detection.label();
    EXPECT_NEAR(x_max, detection.box().x_max(), kEdgeTolerance) << detection.label();
    EXPECT_NEAR(y_max, detection.box().y_max(), kEdgeTolerance) << detection.label();
    EXPECT_GT(detection.score(), 0.99f);
  }

  // Asked-for classes are mapped whatever wins, the background included.
  request.add_class_indices(0);
  const v1::LocalizeResponse background = LocalizeOk(request);
  ASSERT_EQ(1, background.heatmaps_size());
  EXPECT_EQ(0, background.heatmaps(0).class_index());
  // Mid-gray (128/255): logits 0, -4.96, -5.04, so background has softmax 0.9867.
  EXPECT_NEAR(0.9867f, background.heatmaps(0).values(40 * 64 + 10), 1e-3f);
}

TEST_F(LocalizeSegmentationTest, SegmentationAndClassifierMethodsAreRefusedOnTheOtherKindOfModel) {
  EXPECT_EQ(grpc::StatusCode::FAILED_PRECONDITION,
            LocalizeError(Request(kSegmenter, v1::LOCALIZATION_METHOD_GRAD_CAM, SegmentationScenePng()),
                          "is a segmentation model (its output 'logits' is a per-pixel class map [-1, 3, 16, 16]): "
                          "ask for SEGMENTATION"));
  EXPECT_EQ(grpc::StatusCode::FAILED_PRECONDITION,
            LocalizeError(Request(kClassifier, v1::LOCALIZATION_METHOD_SEGMENTATION, ScenePng(64, 64)),
                          "it is a classifier"));
  v1::LocalizeRequest unknown_class = Request(kSegmenter, v1::LOCALIZATION_METHOD_SEGMENTATION, SegmentationScenePng());
  unknown_class.add_class_indices(3);
  EXPECT_EQ(grpc::StatusCode::INVALID_ARGUMENT, LocalizeError(unknown_class, "class index 3 is outside [0, 3)"));
  // Maps at image resolution are sized before the model runs, like every answer.
  v1::LocalizeRequest huge = Request(kSegmenter, v1::LOCALIZATION_METHOD_SEGMENTATION, ScenePng(4000, 3000));
  huge.add_class_indices(1);
  huge.add_class_indices(2);
  EXPECT_EQ(grpc::StatusCode::RESOURCE_EXHAUSTED, LocalizeError(huge, "--max-message-bytes"));
}

}  // namespace
}  // namespace fovea::testing
