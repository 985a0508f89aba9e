// Views and plan-time shape arithmetic through Session: Flatten, Reshape, Squeeze/Unsqueeze, Shape, Gather, Cast, and
// the clear errors for what only works on values known at load time.

#include <gtest/gtest.h>

#include "engine/ops/cast.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gather.h"
#include "engine/ops/range.h"
#include "engine/ops/reshape.h"
#include "engine/ops/shape_of.h"
#include "engine/ops/squeeze.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

using ops::SqueezeParams;

// Runs `graph` through Session and through RunReference on `inputs` and expects equal outputs.
void ExpectSessionMatchesReference(const Graph& graph, const std::vector<Tensor>& inputs) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, inputs));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(graph, inputs));
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(TensorsNear(expected[i], actual[i])) << "output " << i;
}

// x [N, 3, 6, 6] -> Conv (blocked output layout) -> `view` -> out.
Graph ConvThenView(std::unique_ptr<Op> view, std::vector<std::string> extra_inputs = {}) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 3, 6, 6}}};
  g.initializers["w"] = RandomTensor({16, 3, 3, 3}, 1);
  AddNode(g, "conv", ops::Conv::Create({}), {"x", "w"}, {"y"});
  std::vector<std::string> inputs = {"y"};
  inputs.insert(inputs.end(), extra_inputs.begin(), extra_inputs.end());
  g.nodes.push_back({"view", std::shared_ptr<const Op>(std::move(view)), inputs, {"out"}});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  return g;
}

TEST(ShapeOps, FlattenAfterBlockedConv) {
  Graph g = ConvThenView(ops::Flatten::Create({.axis = 1}).value());
  ExpectSessionMatchesReference(g, {RandomTensor({3, 3, 6, 6}, 2)});
}

TEST(ShapeOps, ReshapeWithConstantShape) {
  Graph g = ConvThenView(ops::Reshape::Create({}).value(), {"shape"});
  g.initializers["shape"] = Int64s({3}, {0, -1, 4});
  ExpectSessionMatchesReference(g, {RandomTensor({2, 3, 6, 6}, 3)});
}

TEST(ShapeOps, SqueezeAndUnsqueeze) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 1, 5}}};
  g.initializers["axes"] = Int64s({1}, {1});
  AddNode(g, "squeeze", ops::Squeeze::Create({}), {"x", "axes"}, {"s"});
  AddNode(g, "unsqueeze", ops::Squeeze::Create({SqueezeParams::Kind::kUnsqueeze, {-1, 0}}), {"s"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, RunSession(g, {RandomTensor({4, 1, 5}, 4)}));
  EXPECT_EQ((Shape{1, 4, 5, 1}), out[0].shape());
  ExpectSessionMatchesReference(g, {RandomTensor({4, 1, 5}, 4)});
}

// Opset-13 Squeeze/Unsqueeze read their axes from an input; here the axes are themselves computed (Range folds at
// plan time), and Reshape's target comes from Shape arithmetic on the squeezed value.
TEST(ShapeOps, AxesAndShapesComputedAtLoadTime) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 3, 4}}};
  g.initializers["first"] = Int64s({}, {3});
  g.initializers["limit"] = Int64s({}, {5});
  g.initializers["step"] = Int64s({}, {1});
  AddNode(g, "range", ops::Range::Create(), {"first", "limit", "step"}, {"axes"});
  AddNode(g, "unsqueeze", ops::Squeeze::Create({SqueezeParams::Kind::kUnsqueeze, {}}), {"x", "axes"}, {"u"});
  AddNode(g, "squeeze", ops::Squeeze::Create({}), {"u", "axes"}, {"s"});
  AddNode(g, "shape", ops::ShapeOf::Create({.start = 1}), {"s"}, {"tail"});
  AddNode(g, "reshape", ops::Reshape::Create({}), {"u", "tail"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}, {"u", DataType::kFloat32, {}}};
  const Tensor x = RandomTensor({1, 3, 4}, 5);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, RunSession(g, {x}));
  EXPECT_EQ((Shape{1, 3, 4, 1, 1}), out[1].shape());
  EXPECT_EQ((Shape{3, 4}), out[0].shape());
  ExpectSessionMatchesReference(g, {x});
}

// PyTorch's export of x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape, which folds to a
// constant per plan because plans are compiled for concrete input shapes.
Graph TorchFlatten() {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 2, 3, 3}}};
  g.initializers["zero"] = Int64s({}, {0});
  g.initializers["minus_one"] = Int64s({1}, {-1});
  AddNode(g, "shape", ops::ShapeOf::Create({}), {"x"}, {"shape"});
  AddNode(g, "gather", ops::Gather::Create({.axis = 0}), {"shape", "zero"}, {"batch"});
  AddNode(g, "unsqueeze", ops::Squeeze::Create({SqueezeParams::Kind::kUnsqueeze, {0}}), {"batch"}, {"batch1"});
  AddNode(g, "concat", ops::Concat::Create({.axis = 0}), {"batch1", "minus_one"}, {"target"});
  AddNode(g, "reshape", ops::Reshape::Create({}), {"x", "target"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  return g;
}

TEST(ShapeOps, TorchShapeArithmeticFoldsPerBatchSize) {
  const Graph g = TorchFlatten();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(g, {}, {.optimize = false}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  for (int64_t batch : {1, 4, 7}) {
    const Tensor x = RandomTensor({batch, 2, 3, 3}, static_cast<uint32_t>(batch));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto out, session->Run(std::vector<Tensor>{x}));
    EXPECT_EQ((Shape{batch, 18}), out[0].shape());
    EXPECT_TRUE(TensorsNear(x.Reshaped({batch, 18}).value(), out[0]));
  }
  EXPECT_EQ(3u, session->cached_plans());
}

TEST(ShapeOps, ShapeOfRuntimeValueIsAConstantOutput) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 3, 4, 5}}};
  AddNode(g, "shape", ops::ShapeOf::Create({.start = 1}), {"x"}, {"shape"});
  AddNode(g, "cast", ops::Cast::Create({DataType::kFloat32}), {"shape"}, {"out"});
  g.outputs = {{"out", DataType::kFloat32, {}}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, RunSession(g, {RandomTensor({2, 3, 4, 5}, 1)}));
  EXPECT_TRUE(TensorsNear(Floats({3}, {3, 4, 5}), out[0]));
}

TEST(ShapeOps, Int64ShapeAsGraphOutputKeepsItsDtype) {
  Graph g;
  g.inputs = {{"x", DataType::kFloat32, {-1, 3}}};
  AddNode(g, "shape", ops::ShapeOf::Create({}), {"x"}, {"shape"});
  g.outputs = {{"shape", DataType::kInt64, {}}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto out, RunSession(g, {RandomTensor({6, 3}, 1)}));
  EXPECT_TRUE(TensorsNear(Int64s({2}, {6, 3}), out[0]));
}

TEST(ShapeOps, CastFloatToFloatIsIdentity) {
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> cast, ops::Cast::Create({DataType::kFloat32}));
  EXPECT_TRUE(EmitMatchesReference(cast, {Runtime(RandomTensor({2, 3}, 1))}));
}

// Expects compiling `graph` to fail as Unimplemented with `phrase` in the message.
void ExpectUnimplemented(const Graph& graph, const std::vector<Tensor>& inputs, const std::string& phrase) {
  auto result = RunSession(graph, inputs);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(StatusCode::kUnimplemented, result.status().code()) << result.status().ToString();
  EXPECT_NE(std::string::npos, result.status().message().find(phrase)) << result.status().ToString();
}

TEST(ShapeOps, RuntimeOnlyCasesFailClearly) {
  const Tensor x = RandomTensor({2, 4}, 1);
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> gather, ops::Gather::Create({}));
  ExpectUnimplemented(OneNodeGraph(gather, {Runtime(x), Constant(Int64s({1}, {1}))}), {x},
                      "Gather on runtime values is not supported");
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> reshape, ops::Reshape::Create({}));
  const Tensor shape_as_data = Floats({2}, {4, 2});
  ExpectUnimplemented(OneNodeGraph(reshape, {Runtime(x), Runtime(shape_as_data)}), {x, shape_as_data},
                      "shape must be known");
  FOVEA_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const Op> to_int, ops::Cast::Create({DataType::kInt64}));
  ExpectUnimplemented(OneNodeGraph(to_int, {Runtime(x)}), {x}, "Cast from float32 to int64");
}

}  // namespace
}  // namespace fovea::engine::testing
