// The tiny-training round trip: a few hundred steps on a Fashion-MNIST subset reach accuracy well above chance; the
// exported ONNX file, imported and run by the engine, predicts exactly what the trainer's own evaluation does; and a
// run resumed from a checkpoint ends with the same parameters as an uninterrupted one.

#include <gtest/gtest.h>

#include <filesystem>

#include "trainer/checkpoint.h"
#include "trainer/dataset_idx.h"
#include "trainer/engine_check.h"
#include "trainer/export.h"
#include "trainer/trainer.h"

namespace fovea::trainer {
namespace {

// Debian's dataset-fashion-mnist package (scripts/install-deps.sh installs it).
constexpr char kFashionMnistDir[] = "/usr/share/datasets/fashion-mnist";
constexpr double kProbabilityTolerance = 1e-4;
constexpr double kMinimumAccuracy = 0.6;  // chance is 0.1

TrainOptions TinyOptions() {
  TrainOptions options;
  options.epochs = 3;
  options.batch_size = 32;
  options.seed = 3;
  options.schedule.peak_lr = 0.05f;
  options.augment = {2, true};
  options.progress = false;
  return options;
}

struct TinyData {
  Dataset train, test;
};

TinyData LoadTinyData(int64_t train_per_class, int64_t test_per_class) {
  auto train = LoadFashionMnist(kFashionMnistDir, "train");
  auto test = LoadFashionMnist(kFashionMnistDir, "t10k");
  EXPECT_TRUE(train.ok() && test.ok()) << "Fashion-MNIST must be installed at " << kFashionMnistDir;
  if (!train.ok() || !test.ok()) return {};
  return {LimitPerClass(*train, train_per_class), LimitPerClass(*test, test_per_class)};
}

TEST(RoundTrip, TinyTrainingExportsAModelTheEnginePredictsIdentically) {
  const TinyData data = LoadTinyData(300, 50);
  ASSERT_EQ(data.train.size(), 3000);
  const TrainOptions options = TinyOptions();
  auto network = Network::Create("c16,p,c32,p,gap", {1, 28, 28}, 10, options.seed);
  ASSERT_TRUE(network.ok()) << network.status().ToString();
  const Dataset no_validation;
  auto trainer = Trainer::Create(**network, data.train, no_validation, options);
  ASSERT_TRUE(trainer.ok()) << trainer.status().ToString();
  ASSERT_TRUE((*trainer)->Run().ok());  // 3 epochs of 93 steps
  const EvaluationResult own = Evaluate((*trainer)->inference_network(), data.test, options.normalization);
  EXPECT_GT(own.accuracy, kMinimumAccuracy);

  engine::ModelMetadata metadata;
  metadata.labels = data.train.class_names;
  metadata.input_channels = 1;
  metadata.input_height = metadata.input_width = 28;
  metadata.mean = options.normalization.mean;
  metadata.std = options.normalization.std;
  metadata.properties["fovea.train.seed"] = "3";
  auto graph = BuildExportGraph(**network);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  auto bytes = modelio::ExportOnnx(*graph, metadata);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();

  auto agreement = CompareWithEngine(*bytes, data.test, options.normalization, own);
  ASSERT_TRUE(agreement.ok()) << agreement.status().ToString();
  EXPECT_EQ(agreement->images, data.test.size());
  EXPECT_EQ(agreement->same_top1, data.test.size());
  EXPECT_LT(agreement->max_probability_difference, kProbabilityTolerance);
  EXPECT_EQ(agreement->metadata.labels, data.train.class_names);
  EXPECT_EQ(agreement->metadata.input_height, 28);
  EXPECT_EQ(agreement->metadata.properties.at("fovea.train.seed"), "3");
}

TEST(RoundTrip, ResumedTrainingMatchesUninterruptedTraining) {
  const TinyData data = LoadTinyData(32, 1);
  TrainOptions options = TinyOptions();
  options.epochs = 2;
  const std::string checkpoint =
      (std::filesystem::temp_directory_path() / ("fovea_ckpt_" + std::to_string(::getpid()))).string();
  const Dataset no_validation;
  const auto make_trainer = [&](bool resume, std::unique_ptr<Network>& network) {
    TrainOptions o = options;
    o.checkpoint_path = checkpoint;
    o.resume = resume;
    auto created = Network::Create("tiny", {1, 28, 28}, 10, o.seed);
    EXPECT_TRUE(created.ok());
    network = std::move(created).value();
    auto trainer = Trainer::Create(*network, data.train, no_validation, o);
    EXPECT_TRUE(trainer.ok()) << trainer.status().ToString();
    return std::move(trainer).value();
  };
  std::unique_ptr<Network> uninterrupted, interrupted, resumed;
  ASSERT_TRUE(make_trainer(false, uninterrupted)->Run().ok());
  ASSERT_TRUE(make_trainer(false, interrupted)->RunUntil(1).ok());  // stops after epoch 1's checkpoint
  auto resumed_trainer = make_trainer(true, resumed);
  ASSERT_EQ(resumed_trainer->history().size(), 1u);
  ASSERT_TRUE(resumed_trainer->Run().ok());
  EXPECT_EQ(resumed_trainer->history().size(), 2u);
  std::filesystem::remove(checkpoint);
  for (const auto& p : uninterrupted->parameters().all()) {
    const Parameter* q = resumed->parameters().Find(p->name);
    ASSERT_NE(q, nullptr);
    for (size_t i = 0; i < p->value.size(); ++i) ASSERT_FLOAT_EQ(p->value[i], q->value[i]) << p->name << " " << i;
  }
}

}  // namespace
}  // namespace fovea::trainer
