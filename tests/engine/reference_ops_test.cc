// Checks the reference kernels, the oracle of every other engine test, against values computed by hand.

#include <cmath>

#include <gtest/gtest.h>

#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
#include "engine/ops/cast.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gather.h"
#include "engine/ops/gemm.h"
#include "engine/ops/matmul.h"
#include "engine/ops/pool.h"
#include "engine/ops/reshape.h"
#include "engine/ops/shape_of.h"
#include "engine/ops/softmax.h"
#include "engine/ops/squeeze.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using namespace ops;  // NOLINT: test brevity

// Runs `op`'s reference kernel and returns its first output, failing the test on error.
template <typename OpPtr>
Tensor Ref(const OpPtr& op, std::vector<Tensor> inputs) {
  auto out = op->Reference(inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0] : Tensor();
}

TEST(ReferenceOps, ConvWithPaddingAndBias) {
  ConvParams p;
  p.window.pads_begin = p.window.pads_end = {1, 1};
  auto conv = Conv::Create(p).value();
  // 3x3 ones kernel over a 2x2 input padded to 4x4: every output sums the whole input (1+2+3+4) plus the bias.
  const Tensor y = Ref(conv, {Floats({1, 1, 2, 2}, {1, 2, 3, 4}), Floats({1, 1, 3, 3}, std::vector<float>(9, 1.0f)),
                              Floats({1}, {0.5f})});
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 2, 2}, {10.5f, 10.5f, 10.5f, 10.5f}), y));
}

TEST(ReferenceOps, GroupedStridedConv) {
  ops::ConvParams p;
  p.group = 2;
  p.window.strides = {2, 2};
  auto conv = Conv::Create(p).value();
  // Group 0 sees only channel 0 (all 1s, weight 3), group 1 only channel 1 (all 2s, weight 5).
  const Tensor y = Ref(conv, {Floats({1, 2, 2, 2}, {1, 1, 1, 1, 2, 2, 2, 2}), Floats({2, 1, 1, 1}, {3, 5})});
  EXPECT_TRUE(TensorsNear(Floats({2, 1, 1, 1}, {3, 10}).Reshaped({1, 2, 1, 1}).value(), y));
}

// How a window maps pixels (for localization's head analysis) is asked of graphs whose attributes were not yet checked
// against the input's rank: a per-axis list of the wrong length is refused, not read past its end.
TEST(ReferenceOps, SpatialGeometryRefusesPerAxisListsOfTheWrongLength) {
  for (const int which : {0, 1, 2}) {
    WindowAttributes attributes;
    (which == 0 ? attributes.strides : which == 1 ? attributes.dilations : attributes.pads_begin) = {2};
    const auto geometry = WindowGeometry(attributes, {3, 3}, "Conv");
    ASSERT_FALSE(geometry.ok()) << which;
    EXPECT_NE(geometry.status().message().find("per-axis attribute"), std::string::npos) << which;
  }
  WindowAttributes fine;
  fine.strides = {2, 2};
  EXPECT_TRUE(WindowGeometry(fine, {3, 3}, "Conv").ok());
}

// The window geometry is shared by the oneDNN path and the reference kernels, so it is checked on its own here.
TEST(ReferenceOps, WindowGeometry) {
  WindowAttributes same;
  same.strides = {2};
  same.auto_pad = AutoPad::kSameUpper;
  Window w = ResolveWindow(same, {7}, {4}).value();
  EXPECT_EQ((std::vector<int64_t>{4}), w.output);  // ceil(7 / 2)
  EXPECT_EQ((std::vector<int64_t>{1}), w.pads_begin);
  EXPECT_EQ((std::vector<int64_t>{2}), w.pads_end);
  same.auto_pad = AutoPad::kSameLower;
  w = ResolveWindow(same, {7}, {4}).value();
  EXPECT_EQ((std::vector<int64_t>{2}), w.pads_begin);
  EXPECT_EQ((std::vector<int64_t>{1}), w.pads_end);

  WindowAttributes ceil;
  ceil.strides = {2};
  ceil.ceil_mode = true;
  w = ResolveWindow(ceil, {10}, {3}).value();
  EXPECT_EQ((std::vector<int64_t>{5}), w.output);  // floor mode would give 4
  EXPECT_EQ((std::vector<int64_t>{1}), w.pads_end);
  // The last window would start in the right padding, so it is dropped (as PyTorch does).
  ceil.pads_begin = ceil.pads_end = {1};
  w = ResolveWindow(ceil, {5}, {2}).value();
  EXPECT_EQ((std::vector<int64_t>{3}), w.output);

  WindowAttributes dilated;
  dilated.dilations = {2};
  dilated.pads_begin = {5};
  dilated.pads_end = {5};
  dilated.auto_pad = AutoPad::kValid;
  w = ResolveWindow(dilated, {10}, {3}).value();
  EXPECT_EQ((std::vector<int64_t>{6}), w.output);  // extent 5, no padding under VALID
  EXPECT_EQ((std::vector<int64_t>{0}), w.pads_begin);
  EXPECT_FALSE(ResolveWindow(dilated, {4}, {3}).ok());  // the window does not fit
}

TEST(ReferenceOps, MaxPoolCeilMode) {
  PoolParams p;
  p.window.kernel = {2, 2};
  p.window.strides = {2, 2};
  p.window.ceil_mode = true;
  auto pool = Pool::Create(p).value();
  // 3x3 input, 2x2 windows with stride 2: ceil mode adds a partial last row/column.
  const Tensor y = Ref(pool, {Floats({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})});
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 2, 2}, {5, 6, 8, 9}), y));
}

TEST(ReferenceOps, AveragePoolPadding) {
  PoolParams p;
  p.kind = PoolParams::Kind::kAverage;
  p.window.kernel = {2, 2};
  p.window.pads_begin = p.window.pads_end = {1, 1};
  p.window.strides = {2, 2};
  const Tensor x = Floats({1, 1, 2, 2}, {1, 2, 3, 4});
  // Every 2x2 window covers one real value and three padded ones.
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 2, 2}, {1, 2, 3, 4}), Ref(Pool::Create(p).value(), {x})));
  p.count_include_pad = true;
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 2, 2}, {0.25f, 0.5f, 0.75f, 1.0f}), Ref(Pool::Create(p).value(), {x})));
}

TEST(ReferenceOps, GlobalAveragePool) {
  PoolParams p;
  p.kind = PoolParams::Kind::kAverage;
  p.global = true;
  const Tensor y = Ref(Pool::Create(p).value(), {Floats({1, 2, 1, 2}, {1, 3, 10, 20})});
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 1, 1}, {2, 15}), y));
}

TEST(ReferenceOps, BatchNorm) {
  auto bn = BatchNorm::Create({.epsilon = 0.0f}).value();
  // y = scale * (x - mean) / sqrt(var) + bias with scale 2, bias 1, mean 3, var 4.
  const Tensor y =
      Ref(bn, {Floats({1, 1, 1, 2}, {3, 7}), Floats({1}, {2}), Floats({1}, {1}), Floats({1}, {3}), Floats({1}, {4})});
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 1, 2}, {1, 5}), y));
}

TEST(ReferenceOps, GemmTransposedWithBroadcastC) {
  auto gemm = Gemm::Create({.alpha = 2.0f, .beta = 0.5f, .trans_a = true, .trans_b = false}).value();
  // A^T = [[1, 3], [2, 4]], B = I, so alpha * A^T B = [[2, 6], [4, 8]]; C [2] = {10, 20} adds {5, 10} per row.
  const Tensor y = Ref(gemm, {Floats({2, 2}, {1, 2, 3, 4}), Floats({2, 2}, {1, 0, 0, 1}), Floats({2}, {10, 20})});
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {7, 16, 9, 18}), y));
}

TEST(ReferenceOps, MatMulVectorAndBatchBroadcast) {
  auto matmul = MatMul::Create().value();
  EXPECT_TRUE(TensorsNear(Floats({2}, {3, 6}), Ref(matmul, {Floats({2, 2}, {1, 1, 2, 2}), Floats({2}, {1, 2})})));
  // A [2, 1, 2] times B [2, 1] broadcast over the batch.
  EXPECT_TRUE(
      TensorsNear(Floats({2, 1, 1}, {5, 11}), Ref(matmul, {Floats({2, 1, 2}, {1, 2, 3, 4}), Floats({2, 1}, {1, 2})})));
}

TEST(ReferenceOps, BinaryBroadcastFloatAndInt64) {
  auto sub = Binary::Create({BinaryParams::Kind::kSub}).value();
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {9, 19, 8, 18}), Ref(sub, {Floats({2}, {10, 20}), Floats({2, 1}, {1, 2})})));
  auto div = Binary::Create({BinaryParams::Kind::kDiv}).value();
  EXPECT_TRUE(TensorsNear(Int64s({2}, {3, -2}), Ref(div, {Int64s({2}, {7, -5}), Int64s({}, {2})})));
  auto mul = Binary::Create({BinaryParams::Kind::kMul}).value();
  EXPECT_TRUE(TensorsNear(Int64s({1}, {12}), Ref(mul, {Int64s({1}, {3}), Int64s({1}, {4})})));
  EXPECT_FALSE(div->Reference(std::vector<Tensor>{Int64s({1}, {1}), Int64s({1}, {0})}).ok());
  EXPECT_FALSE(sub->Reference(std::vector<Tensor>{Floats({3}, {1, 2, 3}), Floats({2}, {1, 2})}).ok());
}

TEST(ReferenceOps, Softmax) {
  auto softmax = Softmax::Create({.axis = -1}).value();
  const float e = std::exp(1.0f);
  EXPECT_TRUE(TensorsNear(Floats({1, 2}, {1 / (1 + e), e / (1 + e)}), Ref(softmax, {Floats({1, 2}, {0, 1})})));
  auto log_softmax = Softmax::Create({.axis = 1, .log = true}).value();
  EXPECT_TRUE(TensorsNear(Floats({2, 1}, {0, 0}), Ref(log_softmax, {Floats({2, 1}, {5, -3})})));
  // Legacy (opset < 13) normalizes the whole trailing block: all four values share one denominator.
  auto legacy = Softmax::Create({.axis = 1, .log = false, .legacy_2d = true}).value();
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 2}, {0.25f, 0.25f, 0.25f, 0.25f}), Ref(legacy, {Floats({1, 2, 2}, {})})));
}

TEST(ReferenceOps, ConcatAndShapeArithmetic) {
  auto concat = Concat::Create({.axis = -1}).value();
  EXPECT_TRUE(TensorsNear(Floats({2, 3}, {1, 2, 5, 3, 4, 6}),
                          Ref(concat, {Floats({2, 2}, {1, 2, 3, 4}), Floats({2, 1}, {5, 6})})));
  EXPECT_TRUE(TensorsNear(Int64s({3}, {8, -1, 4}), Ref(concat, {Int64s({1}, {8}), Int64s({2}, {-1, 4})})));
  // PyTorch's flatten as exported: Shape -> Gather(0) -> Unsqueeze -> Concat with -1 -> Reshape.
  const Tensor x(DataType::kFloat32, {8, 4, 2, 2});
  const Tensor shape = Ref(ShapeOf::Create({}).value(), {x});
  EXPECT_TRUE(TensorsNear(Int64s({4}, {8, 4, 2, 2}), shape));
  EXPECT_TRUE(TensorsNear(Int64s({2}, {2, 2}), Ref(ShapeOf::Create({.start = -2}).value(), {x})));
  EXPECT_TRUE(TensorsNear(Int64s({0}, {}), Ref(ShapeOf::Create({.start = 3, .end = 1}).value(), {x})));
  const Tensor batch = Ref(Gather::Create({.axis = 0}).value(), {shape, Int64s({}, {0})});
  EXPECT_TRUE(TensorsNear(Int64s({}, {8}), batch));
  const Tensor batch1 = Ref(Squeeze::Create({SqueezeParams::Kind::kUnsqueeze, {0}}).value(), {batch});
  const Tensor target = Ref(concat, {batch1, Int64s({1}, {-1})});
  EXPECT_TRUE(TensorsNear(Int64s({2}, {8, -1}), target));
  EXPECT_EQ((Shape{8, 16}), Ref(Reshape::Create({}).value(), {x, target}).shape());
}

TEST(ReferenceOps, GatherNegativeIndicesAndAxis) {
  auto gather = Gather::Create({.axis = 1}).value();
  const Tensor y = Ref(gather, {Floats({2, 3}, {1, 2, 3, 4, 5, 6}), Int64s({2}, {-1, 0})});
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {3, 1, 6, 4}), y));
  EXPECT_FALSE(gather->Reference(std::vector<Tensor>{Floats({1, 2}, {1, 2}), Int64s({1}, {2})}).ok());
}

TEST(ReferenceOps, ReshapeZeroAndInferred) {
  const Tensor x(DataType::kFloat32, {2, 3, 4});
  EXPECT_EQ((Shape{2, 12}), Ref(Reshape::Create({}).value(), {x, Int64s({2}, {0, -1})}).shape());
  EXPECT_FALSE(Reshape::Create({}).value()->Reference(std::vector<Tensor>{x, Int64s({2}, {-1, -1})}).ok());
  EXPECT_FALSE(Reshape::Create({}).value()->Reference(std::vector<Tensor>{x, Int64s({2}, {5, -1})}).ok());
  const Tensor empty(DataType::kFloat32, {0, 3});
  EXPECT_EQ((Shape{3, 0}), Ref(Reshape::Create({.allow_zero = true}).value(), {empty, Int64s({2}, {3, 0})}).shape());
}

TEST(ReferenceOps, SqueezeUnsqueezeFlatten) {
  const Tensor x(DataType::kFloat32, {1, 3, 1, 2});
  EXPECT_EQ((Shape{3, 2}), Ref(Squeeze::Create({}).value(), {x}).shape());
  EXPECT_EQ((Shape{1, 3, 2}), Ref(Squeeze::Create({}).value(), {x, Int64s({1}, {-2})}).shape());
  EXPECT_FALSE(Squeeze::Create({}).value()->Reference(std::vector<Tensor>{x, Int64s({1}, {1})}).ok());
  EXPECT_EQ((Shape{1, 3, 1, 2, 1}), Ref(Squeeze::Create({SqueezeParams::Kind::kUnsqueeze, {-1}}).value(), {x}).shape());
  EXPECT_EQ((Shape{1, 1, 1, 3, 1, 2}),
            Ref(Squeeze::Create({SqueezeParams::Kind::kUnsqueeze, {}}).value(), {x, Int64s({2}, {0, 2})}).shape());
  EXPECT_EQ((Shape{3, 2}), Ref(Flatten::Create({.axis = 2}).value(), {x}).shape());
  EXPECT_EQ((Shape{1, 6}), Ref(Flatten::Create({.axis = 0}).value(), {x}).shape());
  EXPECT_EQ((Shape{3, 2}), Ref(Flatten::Create({.axis = -2}).value(), {x}).shape());
}

TEST(ReferenceOps, Cast) {
  auto to_int = Cast::Create({DataType::kInt64}).value();
  EXPECT_TRUE(TensorsNear(Int64s({3}, {1, -1, 3}), Ref(to_int, {Floats({3}, {1.7f, -1.7f, 3.0f})})));
  auto to_float = Cast::Create({DataType::kFloat32}).value();
  EXPECT_TRUE(TensorsNear(Floats({2}, {5, -2}), Ref(to_float, {Int64s({2}, {5, -2})})));
}

}  // namespace
}  // namespace fovea::engine::testing
