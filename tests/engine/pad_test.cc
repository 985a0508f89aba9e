// Pad: the reference kernel against hand-computed values, and the oneDNN path (fill + interior copy) against it.

#include <gtest/gtest.h>

#include "engine/ops/pad.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

std::shared_ptr<const Op> MakePad(ops::PadParams params = {}) {
  return std::shared_ptr<const Op>(ops::Pad::Create(params).value());
}

TEST(PadReference, SurroundsTheInputWithTheConstant) {
  const Tensor x = Floats({1, 1, 2, 2}, {1, 2, 3, 4});
  const Tensor pads = Int64s({8}, {0, 0, 1, 0, 0, 0, 0, 1});  // one row above, one column right
  const Tensor value = Floats({1}, {9});
  const Tensor inputs[] = {x, pads, value};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, MakePad()->Reference(inputs));
  EXPECT_TRUE(TensorsNear(Floats({1, 1, 3, 3}, {9, 9, 9, 1, 2, 9, 3, 4, 9}), out[0]));
}

TEST(PadReference, RejectsEdgeCasesWithClearErrors) {
  const Tensor x = Floats({2, 2}, {1, 2, 3, 4});
  const Tensor short_pads[] = {x, Int64s({2}, {1, 1})};
  EXPECT_NE(MakePad()->Reference(short_pads).status().message().find("needs 4"), std::string::npos);
  const Tensor crop[] = {x, Int64s({4}, {-1, 0, 0, 0})};
  EXPECT_EQ(MakePad()->Reference(crop).status().code(), StatusCode::kUnimplemented);
}

// Localization reads a Pad's geometry (stride 1, shifted by the leading pads of height and width) from its constant
// pads, as DenseNet's and Inception-v3's exports give them; pads computed at run time leave it unknown.
TEST(PadGeometry, ComesFromConstantPads) {
  const Shape shapes[] = {{}, {8}};
  const Tensor parameters[] = {Int64s({8}, {0, 0, 1, 2, 0, 0, 1, 2})};
  FOVEA_ASSERT_OK_AND_ASSIGN(const SpatialGeometry geometry, MakePad()->GeometryWith(shapes, parameters));
  EXPECT_EQ((std::array<int64_t, 2>{1, 1}), geometry.stride);
  EXPECT_EQ((std::array<int64_t, 2>{1, 2}), geometry.offset);
  EXPECT_FALSE(geometry.global);
  FOVEA_ASSERT_OK_AND_ASSIGN(const SpatialGeometry attribute,
                             MakePad({.pads = {0, 0, 3, 3, 0, 0, 3, 3}})->Geometry(shapes));
  EXPECT_EQ((std::array<int64_t, 2>{3, 3}), attribute.offset);
  EXPECT_EQ(StatusCode::kFailedPrecondition, MakePad()->Geometry(shapes).status().code());
}

struct PadCase {
  Shape shape;
  std::vector<int64_t> pads;
  float value;
};

class PadEmit : public ::testing::TestWithParam<PadCase> {};

TEST_P(PadEmit, MatchesReference) {
  const PadCase& c = GetParam();
  const auto rank = static_cast<int64_t>(c.shape.size());
  EXPECT_TRUE(EmitMatchesReference(MakePad(), {Runtime(RandomTensor(c.shape, 3)), Constant(Int64s({2 * rank}, c.pads)),
                                               Constant(Floats({1}, {c.value}))}));
  // The opset < 11 form: pads and value as attributes.
  EXPECT_TRUE(EmitMatchesReference(MakePad({c.pads, c.value}), {Runtime(RandomTensor(c.shape, 4))}));
}

INSTANTIATE_TEST_SUITE_P(Shapes, PadEmit,
                         ::testing::Values(PadCase{{1, 3, 5, 5}, {0, 0, 1, 1, 0, 0, 1, 1}, 0.0f},
                                           PadCase{{2, 4, 7, 6}, {0, 0, 2, 0, 0, 0, 0, 3}, -1.5f},
                                           PadCase{{2, 3, 4, 4}, {0, 1, 0, 0, 0, 2, 0, 0}, 0.5f},
                                           PadCase{{3, 5}, {1, 2, 0, 1}, 7.0f},
                                           PadCase{{1, 2, 3, 3}, {0, 0, 0, 0, 0, 0, 0, 0}, 0.0f}));

}  // namespace
}  // namespace fovea::engine::testing
