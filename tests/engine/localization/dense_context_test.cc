// A dense cell's context (DenseMapper::context): the pixels beyond its window that its value depends on. The claim
// it makes is what whole-slide tiling relies on: a crop starting at a multiple of the natural stride gives the whole
// image's values for every cell whose window plus context lies inside the crop (or reaches the image's own edge),
// and a cell one stride closer to the crop's edge than that does not.

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/localization/dense_map.h"
#include "engine/model.h"
#include "tests/engine/localization/test_networks.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using localization::DenseContext;
using localization::DenseMapper;

constexpr int64_t kWindow = 28;
constexpr int64_t kStride = 4;
constexpr int64_t kImageHeight = 92;
constexpr int64_t kImageWidth = 84;
// Same cells computed from differently sized inputs: bit-identical here (measured), but oneDNN may pick other kernels
// for other sizes on other CPUs.
constexpr float kSameValue = 1e-6f;
// A cell computed with zero padding where the image has pixels: 2e-5 to 1e-4 with these weights (softmax outputs).
constexpr float kChangedValue = 1e-5f;

// Three padded 3x3 convolutions and two 2x2 pools: a cell's reach is 7 pixels beyond its window on every side
// (1 + 1·1 + 1·2 before the second pool, 1·4 + 3 after it).
Graph PaddedGapNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 1)
      .MaxPool(2)
      .Conv(8, 3, 1)
      .MaxPool(2)
      .Conv(8, 3, 1)
      .GlobalAveragePool()
      .Flatten()
      .Gemm(5)
      .Softmax()
      .Build();
}

// A residual block after the pools: its two 3x3 convolutions at stride 4 widen the reach by 8 more on each side.
Graph PaddedResidualNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 1)
      .MaxPool(2)
      .Conv(8, 3, 1)
      .MaxPool(2)
      .Residual()
      .GlobalAveragePool()
      .Flatten()
      .Gemm(5)
      .Softmax()
      .Build();
}

Graph UnpaddedNet() {
  NetBuilder net(1, kWindow, kWindow);
  return net.Conv(4, 3, 0).MaxPool(2).Conv(8, 3, 0).MaxPool(2).GlobalAveragePool().Flatten().Gemm(5).Build();
}

std::unique_ptr<DenseMapper> MapperFor(const Graph& graph) {
  auto model = Model::Create(graph, {});
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  auto mapper = DenseMapper::Create(**model);
  EXPECT_TRUE(mapper.ok()) << mapper.status().ToString();
  return mapper.ok() ? std::move(mapper).value() : nullptr;
}

Tensor Crop(const Tensor& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  Tensor crop(DataType::kFloat32, {1, 1, height, width});
  for (int64_t y = 0; y < height; ++y) {
    std::copy_n(image.data<float>() + (top + y) * image.dim(3) + left, width, crop.data<float>() + y * width);
  }
  return crop;
}

// The dense maps of an image and of its columns [left, right) (full height), in whole-image cell numbering.
struct WholeAndCrop {
  Tensor whole, crop;
  int64_t crop_first_col = 0;  // whole-image column of the crop's column 0

  // Largest |crop cell - whole-image cell| over whole-image columns [first, last) and every row and class.
  float WorstDifference(int64_t first, int64_t last) const {
    const int64_t classes = whole.dim(0), rows = whole.dim(1), cols = whole.dim(2), crop_cols = crop.dim(2);
    float worst = 0.0f;
    for (int64_t col = first; col < last; ++col) {
      const int64_t crop_col = col - crop_first_col;
      EXPECT_TRUE(col >= 0 && col < cols && crop_col >= 0 && crop_col < crop_cols) << "column " << col;
      for (int64_t k = 0; k < classes; ++k) {
        for (int64_t r = 0; r < rows; ++r) {
          worst = std::max(worst, std::fabs(whole.data<float>()[(k * rows + r) * cols + col] -
                                            crop.data<float>()[(k * rows + r) * crop_cols + crop_col]));
        }
      }
    }
    return worst;
  }
};

WholeAndCrop MapsOfWholeAndCrop(const DenseMapper& mapper, const Tensor& image, int64_t left, int64_t right) {
  auto whole = mapper.Compute(image, kStride);
  auto crop = mapper.Compute(Crop(image, 0, left, image.dim(2), right - left), kStride);
  EXPECT_TRUE(whole.ok() && crop.ok());
  if (!whole.ok() || !crop.ok()) return {};
  return {whole->values, crop->values, left / kStride};
}

void ExpectContext(const Graph& graph, const DenseContext& expected) {
  auto mapper = MapperFor(graph);
  ASSERT_NE(nullptr, mapper);
  const DenseContext& c = mapper->context();
  EXPECT_EQ(expected.top, c.top);
  EXPECT_EQ(expected.bottom, c.bottom);
  EXPECT_EQ(expected.left, c.left);
  EXPECT_EQ(expected.right, c.right);
}

TEST(DenseContext, IsZeroWithoutPadding) { ExpectContext(UnpaddedNet(), {0, 0, 0, 0}); }

TEST(DenseContext, CountsPaddingThroughEveryLayer) { ExpectContext(PaddedGapNet(), {7, 7, 7, 7}); }

// Before the block: 3 on each side (as above, before the last convolution); the block's two convolutions at stride 4
// add 4 each. The identity path is narrower and does not count.
TEST(DenseContext, TakesTheWidestPathThroughAResidualSum) { ExpectContext(PaddedResidualNet(), {11, 11, 11, 11}); }

class CropWithContext : public ::testing::TestWithParam<int> {};

// Crops of the image starting at several multiples of the stride and ending inside it: cells whose window plus
// context lies in the crop equal the whole image's; the cells one stride further out on either side (their context
// reaching past the crop's edge) do not.
TEST_P(CropWithContext, GivesTheWholeImagesCellsExactlyWhereTheContextFits) {
  const Graph graphs[] = {PaddedGapNet(), PaddedResidualNet()};
  auto mapper = MapperFor(graphs[GetParam()]);
  ASSERT_NE(nullptr, mapper);
  const DenseContext& context = mapper->context();
  const Tensor image = RandomTensor({1, 1, kImageHeight, kImageWidth}, 5, 0.0f, 1.0f);
  for (const int64_t left : {4, 8, 12}) {
    const int64_t right = left + 68;
    const WholeAndCrop maps = MapsOfWholeAndCrop(*mapper, image, left, right);
    ASSERT_TRUE(maps.whole.has_data());
    // Cell c covers [c·s − context.left, c·s + window + context.right).
    const int64_t first = (left + context.left + kStride - 1) / kStride;
    const int64_t last = (right - kWindow - context.right) / kStride + 1;
    ASSERT_LT(first, last) << "the crop should hold exact cells";
    EXPECT_LE(maps.WorstDifference(first, last), kSameValue) << "crop [" << left << ", " << right << ")";
    EXPECT_GT(maps.WorstDifference(first - 1, first), kChangedValue) << "left of the exact cells, crop at " << left;
    EXPECT_GT(maps.WorstDifference(last, last + 1), kChangedValue) << "right of the exact cells, crop at " << left;
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, CropWithContext, ::testing::Values(0, 1),
                         [](const auto& info) { return info.param == 0 ? "Padded" : "PaddedResidual"; });

}  // namespace
}  // namespace fovea::engine::testing
