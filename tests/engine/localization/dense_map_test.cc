// Dense maps against naive per-window evaluation: for unpadded convolutions the fully-convolutional pass must give
// exactly what classifying each window separately gives, at the natural stride, at divisors (shifted passes) and at
// multiples (subsampling).

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/localization/dense_map.h"
#include "engine/model.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pool.h"
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

// A trunk that is a graph, not a chain: two unpadded Inception blocks (Concat of their branches), natural stride 4.
Graph UnpaddedConcatTrunkNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 0)
      .MaxPool(2)
      .UnpaddedInception(4, 4)
      .MaxPool(2)
      .UnpaddedInception(4, 4)
      .GlobalAveragePool()
      .Flatten()
      .Gemm(kClasses)
      .Softmax()
      .Build();
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

TEST_P(DenseMapStride, ConcatTrunkEqualsPerWindowEvaluation) {
  EXPECT_LE(MaxDifferenceFromWindows(UnpaddedConcatTrunkNet(), GetParam(), false), kMaxAbsDifference);
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

// A padded residual block (its sum fused into the second convolution at load, so that Conv node joins the block's
// input) and a padded Inception block in the trunk: any trunk of spatially local nodes.
Graph PaddedBranchyNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 1)
      .MaxPool(2)
      .Residual()
      .Inception(2, 2)
      .MaxPool(2)
      .GlobalAveragePool()
      .Flatten()
      .Gemm(kClasses)
      .Softmax()
      .Build();
}

TEST(DenseMap, ExactlyWindowSizedImageGivesTheModelsAnswer) {
  for (const Graph& graph : {UnpaddedGapNet(), UnpaddedConcatTrunkNet(), PaddedBranchyNet()}) {
    FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto mapper, DenseMapper::Create(*model));
    EXPECT_EQ(kNaturalStride, mapper->natural_stride());
    const Tensor image = RandomTensor({1, 1, kWindow, kWindow}, 4, 0.0f, 1.0f);
    FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, std::vector<Tensor>{image}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto maps, mapper->Compute(image, kNaturalStride));
    EXPECT_TRUE(TensorsNear(expected[0].Reshaped({kClasses, 1, 1}).value(), maps.values));
  }
}

// A squeeze-excitation pools its whole input; on a larger image that is the whole image, not a window, so the dense
// map would not be per-window classification: refused, naming the pooling and the way out.
TEST(DenseMap, RefusesAGlobalPoolingInsideTheTrunk) {
  NetBuilder net(1, kWindow, kWindow);
  const Graph graph =
      net.Conv(4, 3, 0).SqueezeExcite(2).MaxPool(2).Conv(8, 3, 0).GlobalAveragePool().Flatten().Gemm(kClasses).Build();
  const auto excitation =
      std::find_if(graph.nodes.begin(), graph.nodes.end(), [](const Node& node) { return node.op->IsGlobalAverage(); });
  ASSERT_NE(graph.nodes.end(), excitation);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  const auto mapper = DenseMapper::Create(*model);
  ASSERT_EQ(StatusCode::kFailedPrecondition, mapper.status().code());
  const std::string& message = mapper.status().message();
  EXPECT_NE(std::string::npos, message.find("GlobalAveragePool node '" + excitation->name + "'")) << message;
  EXPECT_NE(std::string::npos, message.find("inside the trunk")) << message;
  EXPECT_NE(std::string::npos, message.find("GRAD_CAM")) << message;
}

// Two branches of one size but different strides joined by a Concat (a 2×2 max pool, stride 2, and an unpadded 15×15
// convolution, stride 1, both 14×14 on the 28×28 input): a cell of the joined map has no single window. Refused, naming
// the Concat.
TEST(DenseMap, RefusesBranchesOfDifferentStrides) {
  constexpr int64_t kWideKernel = 15;
  Graph graph;
  graph.inputs = {{"image", DataType::kFloat32, {-1, 1, kWindow, kWindow}}};
  ops::PoolParams pool;
  pool.window.kernel = pool.window.strides = {2, 2};
  AddNode(graph, "pool", ops::Pool::Create(pool), {"image"}, {"pool"});
  graph.initializers["conv.w"] = RandomTensor({1, 1, kWideKernel, kWideKernel}, 1, -0.1f, 0.1f);
  AddNode(graph, "conv", ops::Conv::Create({}), {"image", "conv.w"}, {"conv"});
  AddNode(graph, "join", ops::Concat::Create({.axis = 1}), {"pool", "conv"}, {"join"});
  ops::PoolParams gap;
  gap.kind = ops::PoolParams::Kind::kAverage;
  gap.global = true;
  AddNode(graph, "gap", ops::Pool::Create(gap), {"join"}, {"gap"});
  AddNode(graph, "flatten", ops::Flatten::Create({.axis = 1}), {"gap"}, {"flat"});
  graph.initializers["fc.w"] = RandomTensor({kClasses, 2}, 2, -1.0f, 1.0f);
  AddNode(graph, "fc", ops::Gemm::Create({.trans_b = true}), {"flat", "fc.w"}, {"scores"});
  graph.outputs = {{"scores", DataType::kFloat32, {}}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  const auto mapper = DenseMapper::Create(*model);
  ASSERT_EQ(StatusCode::kFailedPrecondition, mapper.status().code());
  EXPECT_NE(std::string::npos, mapper.status().message().find("Concat node 'join' joins maps of strides"))
      << mapper.status().message();
}

}  // namespace
}  // namespace fovea::engine::testing
