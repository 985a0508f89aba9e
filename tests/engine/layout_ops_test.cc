// Layout and shape ops: Transpose, Slice, Split, Expand, Tile, DepthToSpace/SpaceToDepth, ChannelShuffle and its
// fusion pass, and the shape-arithmetic ops that fold at load (ConstantOfShape, Range, comparisons, logic, Where).
// Reference kernels against hand-computed values, Emit against Reference over many shapes, gradient checks.

#include <gtest/gtest.h>

#include "engine/channel_shuffle_pass.h"
#include "engine/ops/channel_shuffle.h"
#include "engine/ops/compare.h"
#include "engine/ops/constant_of_shape.h"
#include "engine/ops/conv.h"
#include "engine/ops/depth_to_space.h"
#include "engine/ops/expand.h"
#include "engine/ops/logical.h"
#include "engine/ops/range.h"
#include "engine/ops/reshape.h"
#include "engine/ops/slice.h"
#include "engine/ops/split.h"
#include "engine/ops/tile.h"
#include "engine/ops/transpose.h"
#include "engine/ops/where.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::DepthToSpaceParams;

std::shared_ptr<const Op> Shared(auto op) {
  EXPECT_TRUE(op.ok()) << op.status().ToString();
  return std::shared_ptr<const Op>(std::move(op).value());
}

Tensor Bools(const Shape& shape, const std::vector<bool>& values) {
  Tensor t(DataType::kBool, shape);
  for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
  return t;
}

// An op's reference output 0 on `inputs`; fails the test on error.
Tensor ReferenceOf(const Op& op, std::vector<Tensor> inputs) {
  auto out = op.Reference(inputs);
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? (*out)[0] : Tensor();
}

TEST(Transpose, ReferenceMatchesHandComputed) {
  auto op = Shared(ops::Transpose::Create({}));
  EXPECT_TRUE(TensorsNear(Floats({3, 2}, {1, 4, 2, 5, 3, 6}), ReferenceOf(*op, {Floats({2, 3}, {1, 2, 3, 4, 5, 6})})));
  auto rotate = Shared(ops::Transpose::Create({.perm = {1, 2, 0}}));
  const Tensor y = ReferenceOf(*rotate, {Floats({2, 1, 3}, {1, 2, 3, 4, 5, 6})});
  EXPECT_TRUE(TensorsNear(Floats({1, 3, 2}, {1, 4, 2, 5, 3, 6}), y));
}

TEST(Transpose, RejectsNonPermutation) { EXPECT_FALSE(ops::Transpose::Create({.perm = {0, 0, 1}}).ok()); }

TEST(Transpose, EmitMatchesReference) {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{2, 3}, {}},
      {{2, 3, 4}, {0, 2, 1}},
      {{2, 8, 5, 6}, {0, 2, 3, 1}},
      {{2, 8, 5, 6}, {}},
      {{1, 4, 3, 2, 5}, {0, 2, 1, 3, 4}},
      {{3, 16, 4, 4}, {1, 0, 2, 3}},
  };
  uint32_t seed = 1;
  for (const auto& [shape, perm] : cases) {
    auto op = Shared(ops::Transpose::Create({.perm = perm}));
    EXPECT_TRUE(EmitMatchesReference(op, {Runtime(RandomTensor(shape, seed++))})) << ShapeToString(shape);
    EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, {RandomTensor(shape, seed++)})) << ShapeToString(shape);
  }
}

TEST(Transpose, GeometryIsPointwiseOnlyWhenPixelsStay) {
  EXPECT_TRUE(ops::Transpose::Create({.perm = {1, 0, 2, 3}}).value()->Geometry({}).ok());
  EXPECT_FALSE(ops::Transpose::Create({.perm = {0, 2, 3, 1}}).value()->Geometry({}).ok());
}

// Slice in the opset-10 form: data, starts, ends, axes, steps.
std::vector<Operand> SliceOperands(const Tensor& x, std::vector<int64_t> starts, std::vector<int64_t> ends,
                                   std::vector<int64_t> axes, std::vector<int64_t> steps) {
  const auto n = static_cast<int64_t>(starts.size());
  return {Runtime(x), Constant(Int64s({n}, starts)), Constant(Int64s({n}, ends)), Constant(Int64s({n}, axes)),
          Constant(Int64s({n}, steps))};
}

std::vector<Tensor> TensorsOf(const std::vector<Operand>& operands) {
  std::vector<Tensor> tensors;
  for (const auto& o : operands) tensors.push_back(o.tensor);
  return tensors;
}

TEST(Slice, ReferenceMatchesHandComputed) {
  auto op = Shared(ops::Slice::Create({}));
  const Tensor x = Floats({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});
  // Row 1, columns 3 down to 0 (exclusive) in steps of -2; an end past the start clamps.
  EXPECT_TRUE(TensorsNear(Floats({1, 2}, {8, 6}),
                          ReferenceOf(*op, TensorsOf(SliceOperands(x, {1, -1}, {1000, 0}, {0, 1}, {1, -2})))));
  auto legacy = Shared(ops::Slice::Create({.ranges_from_inputs = false, .starts = {1}, .ends = {-1}, .axes = {1}}));
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {2, 3, 6, 7}), ReferenceOf(*legacy, {x})));
}

TEST(Slice, EmitMatchesReferenceAndBackward) {
  const Shape shape = {2, 6, 7, 5};
  struct Case {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  const std::vector<Case> cases = {
      {{1, 2}, {5, 6}, {2, 3}, {1, 1}},
      {{0}, {3}, {1}, {1}},
      {{-3, 0}, {INT64_MAX, 5}, {2, 3}, {1, 2}},
      {{6, 4}, {-100, 0}, {2, 3}, {-1, -2}},
      {{0, 1, 1, 0}, {2, 5, 6, 4}, {0, 1, 2, 3}, {2, 3, 2, 1}},
  };
  uint32_t seed = 10;
  auto op = Shared(ops::Slice::Create({}));
  for (const auto& c : cases) {
    const auto operands = SliceOperands(RandomTensor(shape, seed++), c.starts, c.ends, c.axes, c.steps);
    EXPECT_TRUE(EmitMatchesReference(op, operands)) << ShapeToString(c.starts);
    EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, TensorsOf(operands))) << ShapeToString(c.starts);
  }
}

TEST(Slice, GeometryOfSpatialCrop) {
  auto op = ops::Slice::Create({.ranges_from_inputs = false, .starts = {2, 3}, .ends = {10, 10}, .axes = {2, 3}});
  FOVEA_ASSERT_OK_AND_ASSIGN(SpatialGeometry g, (*op)->Geometry({}));
  EXPECT_EQ((std::array<int64_t, 2>{-2, -3}), g.offset);
  EXPECT_FALSE(ops::Slice::Create({})->get()->Geometry({}).ok());
}

TEST(Split, ReferenceAndEmit) {
  auto equal = Shared(ops::Split::Create({.axis = 1, .num_outputs = 2, .split = {}}));
  auto parts = equal->Reference(std::vector<Tensor>{Floats({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8})});
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {1, 2, 5, 6}), (*parts)[0]));
  EXPECT_TRUE(TensorsNear(Floats({2, 2}, {3, 4, 7, 8}), (*parts)[1]));
  auto uneven = Shared(ops::Split::Create({.axis = -2, .num_outputs = 3, .split = {1, 4, 2}}));
  const Tensor x = RandomTensor({2, 3, 7, 5}, 3);
  EXPECT_TRUE(EmitMatchesReference(uneven, {Runtime(x)}));
  EXPECT_TRUE(BackwardMatchesFiniteDifferences(*uneven, {x}));
  auto from_input = Shared(ops::Split::Create({.axis = 1, .num_outputs = 2, .split = {}}));
  EXPECT_TRUE(EmitMatchesReference(from_input, {Runtime(x), Constant(Int64s({2}, {1, 2}))}));
}

TEST(Split, EveryOutputMatchesThroughSession) {
  auto op = Shared(ops::Split::Create({.axis = 1, .num_outputs = 3, .split = {}}));
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 6, 4, 4}}};
  g.nodes.push_back({"split", op, {"x"}, {"a", "b", "c"}});
  g.outputs = {{"a", DataType::kFloat32, {}}, {"b", DataType::kFloat32, {}}, {"c", DataType::kFloat32, {}}};
  const Tensor x = RandomTensor({2, 6, 4, 4}, 5);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(g, {x}));
  ASSERT_EQ(3u, actual.size());
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(TensorsNear(expected[i], actual[i])) << i;
}

TEST(Expand, ReferenceEmitAndBackward) {
  auto op = Shared(ops::Expand::Create());
  EXPECT_TRUE(
      TensorsNear(Floats({2, 3}, {1, 1, 1, 2, 2, 2}), ReferenceOf(*op, {Floats({2, 1}, {1, 2}), Int64s({2}, {1, 3})})));
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{3, 1}, {2, 3, 4}}, {{1, 4, 1, 1}, {2, 4, 3, 3}}, {{5}, {2, 1, 5}}, {{2, 3}, {2, 3}}};
  uint32_t seed = 20;
  for (const auto& [shape, target] : cases) {
    const std::vector<Tensor> inputs = {RandomTensor(shape, seed++),
                                        Int64s({static_cast<int64_t>(target.size())}, target)};
    EXPECT_TRUE(EmitMatchesReference(op, {Runtime(inputs[0]), Constant(inputs[1])})) << ShapeToString(shape);
    EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs)) << ShapeToString(shape);
  }
}

TEST(Tile, ReferenceEmitAndBackward) {
  auto op = Shared(ops::Tile::Create());
  EXPECT_TRUE(TensorsNear(Floats({2, 4}, {1, 2, 1, 2, 1, 2, 1, 2}),
                          ReferenceOf(*op, {Floats({1, 2}, {1, 2}), Int64s({2}, {2, 2})})));
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{2, 3}, {2, 1}}, {{1, 3, 2, 2}, {2, 1, 3, 2}}, {{2, 2, 2, 2, 2, 2, 2}, {1, 2, 1, 2, 1, 2, 1}}};
  uint32_t seed = 30;
  for (const auto& [shape, repeats] : cases) {
    const std::vector<Tensor> inputs = {RandomTensor(shape, seed++),
                                        Int64s({static_cast<int64_t>(repeats.size())}, repeats)};
    EXPECT_TRUE(EmitMatchesReference(op, {Runtime(inputs[0]), Constant(inputs[1])})) << ShapeToString(shape);
    EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, inputs)) << ShapeToString(shape);
  }
}

TEST(DepthToSpace, ReferenceMatchesHandComputed) {
  // Channels c = 0..3 of a 1×1 image, block 2: DCR puts channel b1·2 + b2 at pixel (b1, b2); CRD the same for one
  // output channel, so a second depth channel tells them apart.
  const Tensor x = Floats({1, 8, 1, 1}, {0, 1, 2, 3, 4, 5, 6, 7});
  auto dcr = Shared(ops::DepthToSpace::Create({.blocksize = 2}));
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 2, 2}, {0, 2, 4, 6, 1, 3, 5, 7}), ReferenceOf(*dcr, {x})));
  auto crd = Shared(ops::DepthToSpace::Create({.blocksize = 2, .mode = DepthToSpaceParams::Mode::kCrd}));
  EXPECT_TRUE(TensorsNear(Floats({1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}), ReferenceOf(*crd, {x})));
  auto s2d = Shared(ops::DepthToSpace::Create({DepthToSpaceParams::Kind::kSpaceToDepth, 2}));
  EXPECT_TRUE(TensorsNear(x, ReferenceOf(*s2d, {ReferenceOf(*dcr, {x})})));
}

TEST(DepthToSpace, EmitMatchesReferenceAndBackward) {
  uint32_t seed = 40;
  for (auto mode : {DepthToSpaceParams::Mode::kDcr, DepthToSpaceParams::Mode::kCrd}) {
    for (int64_t b : {2, 3}) {
      auto op = Shared(ops::DepthToSpace::Create({.blocksize = b, .mode = mode}));
      const Tensor x = RandomTensor({2, 2 * b * b, 3, 4}, seed++);
      EXPECT_TRUE(EmitMatchesReference(op, {Runtime(x)}));
      EXPECT_TRUE(BackwardMatchesFiniteDifferences(*op, {x}));
      auto s2d = Shared(ops::DepthToSpace::Create({DepthToSpaceParams::Kind::kSpaceToDepth, b}));
      const Tensor image = RandomTensor({2, 3, 2 * b, 3 * b}, seed++);
      EXPECT_TRUE(EmitMatchesReference(s2d, {Runtime(image)}));
      EXPECT_TRUE(BackwardMatchesFiniteDifferences(*s2d, {image}));
    }
  }
  FOVEA_ASSERT_OK_AND_ASSIGN(auto up, ops::DepthToSpace::Create({.blocksize = 2}));
  EXPECT_EQ((std::array<int64_t, 2>{2, 2}), up->Geometry({})->upsample);
}

TEST(ChannelShuffle, EmitMatchesReferenceAndBackward) {
  auto op = Shared(ops::ChannelShuffle::Create({.groups = 3, .expected_input = {}}));
  EXPECT_TRUE(TensorsNear(Floats({1, 6, 1, 1}, {0, 2, 4, 1, 3, 5}),
                          ReferenceOf(*op, {Floats({1, 6, 1, 1}, {0, 1, 2, 3, 4, 5})})));
  for (int64_t groups : {2, 3, 4}) {
    auto shuffle = Shared(ops::ChannelShuffle::Create({.groups = groups, .expected_input = {}}));
    const Tensor x = RandomTensor({2, 12 * groups, 5, 5}, static_cast<uint32_t>(groups));
    EXPECT_TRUE(EmitMatchesReference(shuffle, {Runtime(x)})) << groups;
    EXPECT_TRUE(BackwardMatchesFiniteDifferences(*shuffle, {x})) << groups;
  }
}

// x → Conv → Reshape [n, g, C/g, H, W] → Transpose [0, 2, 1, 3, 4] → Reshape [n, C, H, W] → out.
Graph ShuffleBlock(int64_t batch_entry, std::vector<int64_t> perm = {0, 2, 1, 3, 4}) {
  constexpr int64_t kGroups = 2, kPerGroup = 8, kSize = 5;
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 3, kSize, kSize}}};
  g.initializers["w"] = RandomTensor({kGroups * kPerGroup, 3, 1, 1}, 1);
  g.initializers["grouped"] = Int64s({5}, {batch_entry, kGroups, kPerGroup, kSize, kSize});
  g.initializers["merged"] = Int64s({4}, {batch_entry, kGroups * kPerGroup, kSize, kSize});
  AddNode(g, "conv", ops::Conv::Create({}), {"x", "w"}, {"y"});
  AddNode(g, "reshape1", ops::Reshape::Create({}), {"y", "grouped"}, {"r1"});
  AddNode(g, "transpose", ops::Transpose::Create({.perm = perm}), {"r1"}, {"t"});
  AddNode(g, "reshape2", ops::Reshape::Create({}), {"t", "merged"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  return g;
}

TEST(FuseChannelShuffle, ReplacesThePatternAndMatchesTheOriginal) {
  for (int64_t batch_entry : {-1, 0, 2}) {
    const Graph original = ShuffleBlock(batch_entry);
    FOVEA_ASSERT_OK_AND_ASSIGN(Graph fused, FuseChannelShuffle(original));
    ASSERT_EQ(2u, fused.nodes.size());
    EXPECT_EQ("ChannelShuffle", fused.nodes[1].op->type());
    EXPECT_EQ(0u, fused.initializers.count("grouped"));
    const Tensor x = RandomTensor({2, 3, 5, 5}, 7);
    FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(original, std::vector<Tensor>{x}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto via_reference, RunReference(fused, std::vector<Tensor>{x}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto via_session, RunSession(fused, {x}));
    EXPECT_TRUE(TensorsNear(expected[0], via_reference[0]));
    EXPECT_TRUE(TensorsNear(expected[0], via_session[0]));
  }
}

TEST(FuseChannelShuffle, LeavesOtherPatternsAlone) {
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph other_perm, FuseChannelShuffle(ShuffleBlock(-1, {0, 1, 2, 4, 3})));
  EXPECT_EQ(4u, other_perm.nodes.size());
  Graph read_twice = ShuffleBlock(-1);
  read_twice.outputs.push_back({"r1", DataType::kFloat32, {}});
  FOVEA_ASSERT_OK_AND_ASSIGN(Graph kept, FuseChannelShuffle(read_twice));
  EXPECT_EQ(4u, kept.nodes.size());
}

TEST(FuseChannelShuffle, FusedNodeRejectsAnInputTheReshapeDidNotExpect) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto op, ops::ChannelShuffle::Create({.groups = 2, .expected_input = {-1, 16, 5, 5}}));
  EXPECT_FALSE(op->Reference(std::vector<Tensor>{RandomTensor({1, 16, 25, 1}, 1)}).ok());
}

TEST(ShapeArithmetic, ComparisonsAndLogic) {
  auto less = Shared(ops::Compare::Create({ops::CompareParams::Kind::kLess}));
  const Tensor y = ReferenceOf(*less, {Int64s({3}, {1, 5, 9}), Int64s({}, {5})});
  ASSERT_EQ(DataType::kBool, y.dtype());
  EXPECT_EQ((std::vector<bool>{true, false, false}),
            (std::vector<bool>{y.data<bool>()[0], y.data<bool>()[1], y.data<bool>()[2]}));
  auto equal = Shared(ops::Compare::Create({ops::CompareParams::Kind::kEqual}));
  EXPECT_TRUE(ReferenceOf(*equal, {Int64s({1}, {INT64_MAX}), Int64s({1}, {INT64_MAX})}).data<bool>()[0]);
  EXPECT_FALSE(ReferenceOf(*equal, {Int64s({1}, {INT64_MAX}), Int64s({1}, {INT64_MAX - 1})}).data<bool>()[0]);
  auto greater = Shared(ops::Compare::Create({ops::CompareParams::Kind::kGreater}));
  EXPECT_TRUE(ReferenceOf(*greater, {Floats({1}, {2.5f}), Floats({1}, {2.0f})}).data<bool>()[0]);
  auto logical_or = Shared(ops::Logical::Create({ops::LogicalParams::Kind::kOr}));
  const Tensor o = ReferenceOf(*logical_or, {Bools({2}, {true, false}), Bools({2, 1}, {false, false})});
  EXPECT_EQ((Shape{2, 2}), o.shape());
  EXPECT_TRUE(o.data<bool>()[0]);
  EXPECT_FALSE(o.data<bool>()[1]);
  auto logical_not = Shared(ops::Logical::Create({ops::LogicalParams::Kind::kNot}));
  EXPECT_FALSE(ReferenceOf(*logical_not, {Bools({1}, {true})}).data<bool>()[0]);
}

TEST(ShapeArithmetic, WhereRangeConstantOfShape) {
  auto where = Shared(ops::Where::Create());
  EXPECT_TRUE(TensorsNear(Int64s({2, 2}, {1, 20, 3, 40}),
                          ReferenceOf(*where, {Bools({2}, {true, false}), Int64s({2, 2}, {1, 2, 3, 4}),
                                               Int64s({2, 2}, {10, 20, 30, 40})})));
  auto range = Shared(ops::Range::Create());
  EXPECT_TRUE(
      TensorsNear(Int64s({3}, {10, 7, 4}), ReferenceOf(*range, {Int64s({}, {10}), Int64s({}, {2}), Int64s({}, {-3})})));
  EXPECT_TRUE(TensorsNear(Floats({4}, {0, 0.5f, 1, 1.5f}),
                          ReferenceOf(*range, {Floats({}, {0}), Floats({}, {2}), Floats({}, {0.5f})})));
  auto fill = Shared(ops::ConstantOfShape::Create({Int64s({1}, {7})}));
  EXPECT_TRUE(TensorsNear(Int64s({2, 1}, {7, 7}), ReferenceOf(*fill, {Int64s({2}, {2, 1})})));
}

TEST(ShapeArithmetic, FoldsAtLoadAndRejectsRuntimeValues) {
  // Where(Greater(shape[1], 2), shape, zeros) folds into a Reshape target at plan time.
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 4, 3}}};
  g.initializers["target"] = Int64s({2}, {0, 12});
  g.initializers["limit"] = Int64s({}, {1});
  g.initializers["fallback"] = Int64s({2}, {-1, 3});
  AddNode(g, "greater", ops::Compare::Create({ops::CompareParams::Kind::kGreater}), {"target", "limit"}, {"big"});
  AddNode(g, "where", ops::Where::Create(), {"big", "target", "fallback"}, {"shape"});
  AddNode(g, "reshape", ops::Reshape::Create({}), {"x", "shape"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  const Tensor x = RandomTensor({2, 4, 3}, 1);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, RunSession(g, {x}));
  EXPECT_TRUE(TensorsNear(x.Reshaped({2, 12}).value(), out[0]));

  auto less = Shared(ops::Compare::Create({ops::CompareParams::Kind::kLess}));
  auto result = RunSession(OneNodeGraph(less, {Runtime(x), Constant(Floats({}, {0}))}), {x});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(StatusCode::kUnimplemented, result.status().code());
  EXPECT_NE(std::string::npos, result.status().message().find("Less")) << result.status().ToString();
}

}  // namespace
}  // namespace fovea::engine::testing
