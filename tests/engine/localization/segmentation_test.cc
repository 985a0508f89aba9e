// Segmentation maps: class probabilities per cell (softmax, sigmoid or as they are) and the classes that win cells.

#include "engine/localization/segmentation.h"

#include <gtest/gtest.h>

#include <cmath>

namespace fovea::engine::localization {
namespace {

// [1, 3, 1, 2]: cell 0 has logits (0, 2, 1), cell 1 has (3, 0, 0).
Tensor TwoCellOutput() {
  Tensor output(DataType::kFloat32, {1, 3, 1, 2});
  const float values[] = {0, 3, 2, 0, 1, 0};  // class-major: class 0's cells, then class 1's, then class 2's
  std::copy(std::begin(values), std::end(values), output.data<float>());
  return output;
}

TEST(SegmentationTest, SoftmaxRunsOverTheClassesOfEachCell) {
  const StatusOr<Tensor> planes = ClassProbabilityPlanes(TwoCellOutput(), PlaneScores::kLogits);
  ASSERT_TRUE(planes.ok()) << planes.status().ToString();
  EXPECT_EQ(planes->shape(), (Shape{3, 1, 2}));
  const float* p = planes->data<float>();
  const double cell0 = std::exp(0.0) + std::exp(2.0) + std::exp(1.0);
  EXPECT_NEAR(p[2], std::exp(2.0) / cell0, 1e-6);  // class 1, cell 0
  const double cell1 = std::exp(3.0) + 2.0;
  EXPECT_NEAR(p[1], std::exp(3.0) / cell1, 1e-6);  // class 0, cell 1
  for (int cell = 0; cell < 2; ++cell) EXPECT_NEAR(p[cell] + p[2 + cell] + p[4 + cell], 1.0, 1e-6);
}

TEST(SegmentationTest, SigmoidAndProbabilitiesAreReadPerValue) {
  const StatusOr<Tensor> sigmoid = ClassProbabilityPlanes(TwoCellOutput(), PlaneScores::kIndependentLogits);
  ASSERT_TRUE(sigmoid.ok());
  EXPECT_NEAR(sigmoid->data<float>()[1], 1.0 / (1.0 + std::exp(-3.0)), 1e-6);
  const StatusOr<Tensor> same = ClassProbabilityPlanes(TwoCellOutput(), PlaneScores::kProbabilities);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->data<float>()[1], 3.0f);
}

TEST(SegmentationTest, OnlyPerPixelClassMapsAreAccepted) {
  EXPECT_FALSE(ClassProbabilityPlanes(Tensor(DataType::kFloat32, {1, 10}), PlaneScores::kLogits).ok());
  EXPECT_FALSE(ClassProbabilityPlanes(Tensor(DataType::kFloat32, {1, 10, 1, 1}), PlaneScores::kLogits).ok())
      << "one cell is a classifier's [N, K, 1, 1]";
  EXPECT_FALSE(ClassProbabilityPlanes(Tensor(DataType::kFloat32, {2, 3, 4, 4}), PlaneScores::kLogits).ok())
      << "one image at a time";
}

TEST(SegmentationTest, WinningClassesComeByCellsWonAndSkipTheBackground) {
  Tensor planes(DataType::kFloat32, {3, 1, 4});
  // Cells won: class 2 wins cells 0-2, class 1 wins cell 3, class 0 none.
  const float values[] = {0.1f, 0.1f, 0.1f, 0.1f, 0.2f, 0.2f, 0.2f, 0.8f, 0.7f, 0.7f, 0.7f, 0.1f};
  std::copy(std::begin(values), std::end(values), planes.data<float>());
  EXPECT_EQ(WinningClasses(planes, -1), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(WinningClasses(planes, 2), (std::vector<int64_t>{1}));
  const Tensor plane = ClassPlane(planes, 1);
  EXPECT_EQ(plane.shape(), (Shape{1, 4}));
  EXPECT_EQ(plane.data<float>()[3], 0.8f);
}

}  // namespace
}  // namespace fovea::engine::localization
