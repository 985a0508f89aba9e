// Post-training quantization and bf16 on the bundled Fashion-MNIST model: `fovea-train quantize` writes a QDQ model
// that imports (ONNX checker included), fuses into int8 convolutions and classifies within the accuracy bound; bf16
// execution agrees with float32. A 1,000-image test subset keeps CTest fast (bench/RESULTS.md has the full 10,000).

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/cpu_features.h"
#include "engine/session.h"
#include "modelio/onnx_import.h"
#include "trainer/dataset_idx.h"
#include "trainer/engine_check.h"
#include "trainer/loss.h"
#include "trainer/quantize.h"

namespace fovea::trainer {
namespace {

constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
constexpr int64_t kTestPerClass = 100;
constexpr int64_t kCalibrationImages = 1000;
constexpr double kMaxAccuracyDrop = 0.003;  // the bound: 0.3 points
constexpr double kMinInt8Agreement = 0.99;  // same top-1 as float32
constexpr double kMinBf16Agreement = 0.995;
constexpr double kMaxBf16ProbabilityDifference = 0.05;

std::filesystem::path TempDir(const std::string& name) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("fovea_quantize_test_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// Quantizing the bundled model into a fresh version folder `<temp>/<name>/2`.
QuantizeOptions BundledOptions(const std::string& name, int64_t test_per_class) {
  QuantizeOptions options;
  options.model_path = FOVEA_BUNDLED_MODEL;
  options.output_dir = (TempDir(name) / "2").string();
  options.data_dir = kFashionMnistDir;
  options.calibration_images = kCalibrationImages;
  options.test_limit_per_class = test_per_class;
  options.command = "quantize_test";
  return options;
}

TEST(Quantize, BundledModelQuantizesWithinTheAccuracyBound) {
  const QuantizeOptions options = BundledOptions("int8", kTestPerClass);
  auto report = QuantizeModel(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->test_images, 10 * kTestPerClass);
  EXPECT_LE(report->float_accuracy - report->int8_accuracy, kMaxAccuracyDrop);
  EXPECT_GE(static_cast<double>(report->same_top1), kMinInt8Agreement * static_cast<double>(report->test_images));
  // All six convolutions are quantized; every input is non-negative (the [0, 1] image, then ReLU outputs): uint8.
  ASSERT_EQ(report->layers.size(), 6u);
  for (const auto& layer : report->layers) EXPECT_TRUE(layer.unsigned_input) << layer.node;

  // The written file imports (the ONNX checker runs on import) and runs its convolutions as int8.
  auto model = modelio::LoadOnnxModel(report->model_path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_TRUE((*model)->quantized());
  int int8_convs = 0;
  for (const auto& node : (*model)->graph().nodes) int8_convs += node.op->type() == "QLinearConv";
  EXPECT_EQ(int8_convs, 6);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(options.output_dir) / "MODEL.md"));
  EXPECT_NE((*model)->metadata().properties.count("fovea.quantization"), 0u);
  std::filesystem::remove_all(std::filesystem::path(options.output_dir).parent_path());
}

TEST(Quantize, NarrowConvolutionsCanStayFloat) {
  QuantizeOptions options = BundledOptions("first_float", 10);
  options.min_input_channels = 16;  // the first convolution reads one channel
  auto report = QuantizeModel(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->layers.size(), 5u);
  auto model = modelio::LoadOnnxModel(report->model_path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<std::string> convs;
  for (const auto& node : (*model)->graph().nodes) {
    if (node.op->type() == "Conv" || node.op->type() == "QLinearConv") convs.emplace_back(node.op->type());
  }
  EXPECT_EQ(convs, (std::vector<std::string>{"Conv", "QLinearConv", "QLinearConv", "QLinearConv", "QLinearConv",
                                             "QLinearConv"}));
  std::filesystem::remove_all(std::filesystem::path(options.output_dir).parent_path());
}

TEST(Quantize, ImpossibleBoundWritesNothing) {
  QuantizeOptions options = BundledOptions("strict", 10);
  options.max_accuracy_drop = -1.0;  // int8 would have to beat float32 by 100 points
  auto report = QuantizeModel(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(std::filesystem::exists(options.output_dir));
}

TEST(Quantize, CommandLineNamesBadFlags) {
  EXPECT_FALSE(ParseQuantizeCommandLine({"--model", "m.onnx"}).ok());  // --output missing
  EXPECT_FALSE(ParseQuantizeCommandLine({"--model", "m", "--output", "o", "--bogus", "1"}).ok());
  auto parsed = ParseQuantizeCommandLine({"--model", "m", "--output", "o", "--max-accuracy-drop", "0.5"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_DOUBLE_EQ(parsed->max_accuracy_drop, 0.005);
}

StatusOr<std::vector<float>> Classify(engine::Precision precision, const Dataset& test) {
  FOVEA_ASSIGN_OR_RETURN(auto model, modelio::LoadOnnxModel(FOVEA_BUNDLED_MODEL, {.precision = precision}));
  FOVEA_ASSIGN_OR_RETURN(auto session, engine::Session::Create(model));
  return ClassifyWithEngine(*session, test, Normalization{});
}

TEST(Bf16, BundledModelAgreesWithFloat32) {
  auto all = LoadFashionMnist(kFashionMnistDir, "t10k");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  const Dataset test = LimitPerClass(*all, kTestPerClass);
  auto fp32 = Classify(engine::Precision::kFp32, test);
  auto bf16 = Classify(engine::Precision::kBf16, test);
  ASSERT_TRUE(fp32.ok() && bf16.ok());
  const auto classes = static_cast<size_t>(test.num_classes());
  int64_t same = 0;
  double max_difference = 0.0;
  for (size_t i = 0; i < static_cast<size_t>(test.size()); ++i) {
    const std::span<const float> a(fp32->data() + i * classes, classes), b(bf16->data() + i * classes, classes);
    same += ArgMax(a) == ArgMax(b);
    for (size_t k = 0; k < classes; ++k) max_difference = std::max(max_difference, double{std::fabs(a[k] - b[k])});
  }
  EXPECT_GE(static_cast<double>(same), kMinBf16Agreement * static_cast<double>(test.size()));
  EXPECT_LE(max_difference, kMaxBf16ProbabilityDifference);
  if (engine::CpuSupportsBf16()) {
    EXPECT_GT(max_difference, 0.0) << "bf16 ran in float32";
  } else {
    // oneDNN 2.6 has no bf16 convolution before AVX-512: the plans run float32 (engine/cpu_features.h).
    EXPECT_EQ(max_difference, 0.0) << "a CPU without bf16 must run the bf16 setting as float32";
  }
}

}  // namespace
}  // namespace fovea::trainer
