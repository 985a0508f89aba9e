// Dense maps against naive per-window evaluation: for unpadded convolutions the fully-convolutional pass must give
// exactly what classifying each window separately gives, at the natural stride, at divisors (shifted passes) and at
// multiples (subsampling).

#include <gtest/gtest.h>

#include "engine/localization/dense_map.h"
#include "engine/model.h"
#include "tests/engine/localization/test_networks.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using localization::DenseMapper;

constexpr int64_t kWindow = 28;
constexpr int64_t kClasses = 5;
constexpr int64_t kNaturalStride = 4;
constexpr float kMaxAbsDifference = 1e-4f;
constexpr int64_t kImageHeight = 61;
constexpr int64_t kImageWidth = 53;

// Unpadded convolutions and two 2x2 pools: natural stride 4.
Graph UnpaddedGapNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 0)
      .MaxPool(2)
      .Conv(8, 3, 0)
      .MaxPool(2)
      .Conv(8, 3, 0)
      .GlobalAveragePool()
      .Flatten()
      .Gemm(kClasses)
      .Softmax()
      .Build();
}

// The same trunk with a flattening head (fc over the whole 3x3 map, then another fc) and logits out.
Graph UnpaddedFlattenNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 0)
      .MaxPool(2)
      .Conv(8, 3, 0)
      .MaxPool(2)
      .Conv(8, 3, 0)
      .Flatten()
      .Gemm(16)
      .Relu()
      .Gemm(kClasses)
      .Build();
}

// The last 2x2 pool sits between the last convolution and the flattening fc: half of the natural stride is the
// head's (trunk stride 2, map stride 4).
Graph UnpaddedPoolInHeadNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 0).MaxPool(2).Conv(8, 3, 0).MaxPool(2).Flatten().Gemm(kClasses).Build();
}

Tensor Window(const Tensor& image, int64_t top, int64_t left) {
  Tensor window(DataType::kFloat32, {1, 1, kWindow, kWindow});
  for (int64_t y = 0; y < kWindow; ++y) {
    for (int64_t x = 0; x < kWindow; ++x) {
      window.data<float>()[y * kWindow + x] = image.data<float>()[(top + y) * image.dim(3) + left + x];
    }
  }
  return window;
}

// Softmax of the per-window model output when the model outputs logits.
std::vector<float> Probabilities(const Tensor& output, bool softmax) {
  std::vector<float> p(output.floats().begin(), output.floats().end());
  if (!softmax) return p;
  float max = p[0], sum = 0;
  for (float v : p) max = std::max(max, v);
  for (float& v : p) sum += (v = std::exp(v - max));
  for (float& v : p) v /= sum;
  return p;
}

// Largest |dense - per-window| over every cell and class.
float MaxDifferenceFromWindows(const Graph& graph, int64_t stride, bool model_outputs_logits) {
  auto model = Model::Create(graph, {});
  EXPECT_TRUE(model.ok());
  auto session = Session::Create(*model);
  auto mapper = DenseMapper::Create(**model);
  EXPECT_TRUE(mapper.ok()) << mapper.status().ToString();
  if (!mapper.ok()) return 1.0f;
  EXPECT_EQ(kNaturalStride, (*mapper)->natural_stride());
  const Tensor image = RandomTensor({1, 1, kImageHeight, kImageWidth}, 21, 0.0f, 1.0f);
  auto maps = (*mapper)->Compute(image, stride);
  EXPECT_TRUE(maps.ok()) << maps.status().ToString();
  if (!maps.ok()) return 1.0f;
  const Tensor& values = maps->values;
  const int64_t rows = (kImageHeight - kWindow) / stride + 1, cols = (kImageWidth - kWindow) / stride + 1;
  EXPECT_EQ((Shape{kClasses, rows, cols}), values.shape());
  EXPECT_EQ(static_cast<double>(stride), maps->geometry.stride_x);
  EXPECT_EQ(kWindow / 2.0, maps->geometry.offset_x);
  float worst = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      auto out = (*session)->Run(std::vector<Tensor>{Window(image, r * stride, c * stride)});
      EXPECT_TRUE(out.ok());
      const std::vector<float> expected = Probabilities((*out)[0], model_outputs_logits);
      for (int64_t k = 0; k < kClasses; ++k) {
        const float actual = values.data<float>()[(k * rows + r) * cols + c];
        worst = std::max(worst, std::fabs(actual - expected[static_cast<size_t>(k)]));
      }
    }
  }
  return worst;
}

class DenseMapStride : public ::testing::TestWithParam<int64_t> {};

TEST_P(DenseMapStride, GapHeadEqualsPerWindowEvaluation) {
  EXPECT_LE(MaxDifferenceFromWindows(UnpaddedGapNet(), GetParam(), false), kMaxAbsDifference);
}

TEST_P(DenseMapStride, FlattenHeadEqualsPerWindowEvaluation) {
  EXPECT_LE(MaxDifferenceFromWindows(UnpaddedFlattenNet(), GetParam(), true), kMaxAbsDifference);
}

TEST_P(DenseMapStride, PoolingInTheHeadEqualsPerWindowEvaluation) {
  EXPECT_LE(MaxDifferenceFromWindows(UnpaddedPoolInHeadNet(), GetParam(), true), kMaxAbsDifference);
}

// 4: one pass; 2 and 1: 4 and 16 shifted passes; 8: every other cell of the natural map.
INSTANTIATE_TEST_SUITE_P(Strides, DenseMapStride, ::testing::Values(4, 2, 1, 8),
                         [](const auto& info) { return "Stride" + std::to_string(info.param); });

TEST(DenseMap, RejectsSmallImagesAndIncompatibleStrides) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(UnpaddedGapNet(), {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto mapper, DenseMapper::Create(*model));
  EXPECT_EQ(kNaturalStride, mapper->ResolveStride(0).value());
  for (int64_t bad : {-4, 3, 6}) EXPECT_EQ(StatusCode::kInvalidArgument, mapper->ResolveStride(bad).status().code());
  const Tensor small = RandomTensor({1, 1, kWindow - 1, 100}, 1);
  const auto result = mapper->Compute(small, kNaturalStride);
  EXPECT_EQ(StatusCode::kInvalidArgument, result.status().code());
  EXPECT_NE(std::string::npos, result.status().message().find("smaller than the model's 28x28 input window"));
}

TEST(DenseMap, ExactlyWindowSizedImageGivesTheModelsAnswer) {
  const Graph graph = UnpaddedGapNet();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto mapper, DenseMapper::Create(*model));
  const Tensor image = RandomTensor({1, 1, kWindow, kWindow}, 4, 0.0f, 1.0f);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, std::vector<Tensor>{image}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto maps, mapper->Compute(image, kNaturalStride));
  EXPECT_TRUE(TensorsNear(expected[0].Reshaped({kClasses, 1, 1}).value(), maps.values));
}

}  // namespace
}  // namespace fovea::engine::testing
