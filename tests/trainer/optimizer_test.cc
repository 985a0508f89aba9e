// Optimizers and learning-rate schedules against hand-computed updates.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "trainer/optimizer.h"
#include "trainer/schedule.h"

namespace fovea::trainer {
namespace {

using ::testing::HasSubstr;

TEST(Optimizer, SgdMomentumWithWeightDecayOnlyWhereAllowed) {
  ParameterStore store;
  Parameter& w = store.Add("w", {1}, true, true);
  Parameter& b = store.Add("b", {1}, true, false);
  w.value = {1.0f};
  b.value = {1.0f};
  OptimizerOptions options;
  options.nesterov = false;
  options.momentum = 0.5f;
  options.weight_decay = 0.1f;
  auto sgd = MakeOptimizer(options, store);
  ASSERT_TRUE(sgd.ok());
  w.grad = {2.0f};
  b.grad = {2.0f};
  (*sgd)->Step(store, 0.1f);
  EXPECT_FLOAT_EQ(w.value[0], 1.0f - 0.1f * 2.1f);  // grad + decay * w
  EXPECT_FLOAT_EQ(b.value[0], 1.0f - 0.1f * 2.0f);
  (*sgd)->Step(store, 0.1f);
  const float v2 = 0.5f * 2.1f + (2.0f + 0.1f * 0.79f);
  EXPECT_FLOAT_EQ(w.value[0], 0.79f - 0.1f * v2);
}

TEST(Optimizer, EachParametersLearningRateScaleApplies) {
  for (const std::string kind : {"sgd", "adamw"}) {
    ParameterStore store;
    Parameter& backbone = store.Add("backbone", {1}, true, false);
    Parameter& head = store.Add("head", {1}, true, false);
    backbone.lr_scale = 0.1f;
    backbone.grad = head.grad = {1.0f};
    OptimizerOptions options;
    options.kind = kind;
    options.nesterov = false;
    auto optimizer = MakeOptimizer(options, store);
    ASSERT_TRUE(optimizer.ok()) << kind;
    (*optimizer)->Step(store, 0.5f);
    EXPECT_FLOAT_EQ(head.value[0], -0.5f) << kind;  // both first steps move by lr (SGD: grad 1; AdamW: normalized)
    EXPECT_NEAR(backbone.value[0], -0.05f, 1e-6) << kind;
  }
}

TEST(Optimizer, AdamWFirstStepMovesByTheLearningRate) {
  ParameterStore store;
  Parameter& w = store.Add("w", {2}, true, true);
  w.value = {1.0f, -1.0f};
  w.grad = {0.3f, -5.0f};
  OptimizerOptions options;
  options.kind = "adamw";
  options.weight_decay = 0.0f;
  auto adam = MakeOptimizer(options, store);
  ASSERT_TRUE(adam.ok());
  (*adam)->Step(store, 0.01f);
  // With bias correction the first update is lr * sign(grad), whatever the gradient's size.
  EXPECT_NEAR(w.value[0], 0.99f, 1e-5);
  EXPECT_NEAR(w.value[1], -0.99f, 1e-5);
}

TEST(Optimizer, UnknownKindIsAnError) {
  ParameterStore store;
  OptimizerOptions options;
  options.kind = "lbfgs";
  auto optimizer = MakeOptimizer(options, store);
  ASSERT_FALSE(optimizer.ok());
  EXPECT_EQ(optimizer.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(optimizer.status().message(), HasSubstr("unknown optimizer 'lbfgs'"));
}

TEST(Schedule, OneCycleRisesToThePeakThenDecays) {
  auto schedule = Schedule::Create({"onecycle", 0.1f, 0}, 100);
  ASSERT_TRUE(schedule.ok());
  EXPECT_NEAR(schedule->LearningRate(0), 0.1f / 25, 1e-6);
  EXPECT_NEAR(schedule->LearningRate(30), 0.1f, 1e-6);
  EXPECT_LT(schedule->LearningRate(99), 1e-3f);
  EXPECT_GT(schedule->LearningRate(50), schedule->LearningRate(80));
}

TEST(Schedule, CosineWithWarmup) {
  auto schedule = Schedule::Create({"cosine", 0.2f, 10}, 110);
  ASSERT_TRUE(schedule.ok());
  EXPECT_NEAR(schedule->LearningRate(4), 0.1f, 1e-6);
  EXPECT_NEAR(schedule->LearningRate(10), 0.2f, 1e-6);
  EXPECT_NEAR(schedule->LearningRate(60), 0.1f, 1e-6);
  EXPECT_FALSE(Schedule::Create({"step", 0.1f, 0}, 10).ok());
}

}  // namespace
}  // namespace fovea::trainer
