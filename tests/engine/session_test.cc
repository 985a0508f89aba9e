// Session: the plan cache's LRU bound for models of free input size, and host-kernel plan steps (the path of ops that
// oneDNN has no primitive for).

#include <cmath>

#include <gtest/gtest.h>

#include "engine/ops/conv.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

// y = x² + constant, computed by a host kernel: a stand-in for an op with no oneDNN primitive.
class SquarePlusOp final : public Op {
 public:
  std::string_view type() const override { return "SquarePlus"; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override {
    Tensor y(DataType::kFloat32, inputs[0].shape());
    Compute(inputs[0], inputs[1], y);
    return std::vector<Tensor>{y};
  }
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override {
    auto kernel = [](std::span<const Tensor> in, std::span<Tensor> out) {
      Compute(in[0], in[1], out[0]);
      return OkStatus();
    };
    return builder.AddHostStep(kernel, inputs, {inputs[0].shape}, {DataType::kFloat32});
  }

 private:
  static void Compute(const Tensor& x, const Tensor& c, Tensor& y) {
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      y.data<float>()[i] = x.data<float>()[i] * x.data<float>()[i] + c.data<float>()[0];
    }
  }
};

TEST(SessionTest, HostStepRunsBetweenPrimitives) {
  // conv → host step → conv: the host kernel must see the first conv's result and feed the second.
  Graph graph;
  graph.inputs.push_back({"x", DataType::kFloat32, {-1, 2, 5, 5}});
  graph.initializers["w1"] = RandomTensor({3, 2, 3, 3}, 1);
  graph.initializers["w2"] = RandomTensor({2, 3, 1, 1}, 2);
  graph.initializers["c"] = Floats({1}, {0.25f});
  AddNode(graph, "conv1", ops::Conv::Create({}), {"x", "w1"}, {"a"});
  graph.nodes.push_back({"square", std::make_shared<SquarePlusOp>(), {"a", "c"}, {"b"}});
  AddNode(graph, "conv2", ops::Conv::Create({}), {"b", "w2"}, {"y"});
  graph.outputs.push_back({"y", DataType::kFloat32, {}});
  const Tensor x = RandomTensor({2, 2, 5, 5}, 3);
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, std::vector<Tensor>{x}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(graph, {x}, /*optimize=*/true));
  EXPECT_TRUE(TensorsNear(expected[0], actual[0]));
}

TEST(SessionTest, PlansForFreeSizesAreBoundedLeastRecentlyUsedFirst) {
  Graph graph;
  graph.inputs.push_back({"x", DataType::kFloat32, {-1, 1, -1, -1}});
  graph.initializers["w"] = RandomTensor({2, 1, 3, 3}, 4);
  AddNode(graph, "conv", ops::Conv::Create({}), {"x", "w"}, {"y"});
  graph.outputs.push_back({"y", DataType::kFloat32, {}});
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  constexpr size_t kBound = 3;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model, kBound));
  const std::vector<int64_t> sizes = {8, 9, 10, 8, 11, 12, 8};
  for (int64_t size : sizes) {
    const Tensor x = RandomTensor({1, 1, size, size}, static_cast<uint32_t>(size));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, std::vector<Tensor>{x}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, session->Run(std::vector<Tensor>{x}));
    EXPECT_TRUE(TensorsNear(expected[0], actual[0])) << "size " << size;
    EXPECT_LE(session->cached_plans(), kBound);
  }
  EXPECT_EQ(kBound, session->cached_plans());
  // 8 was used last-but-two and most recently: it must still be cached, so asking again compiles nothing new.
  const std::vector<Shape> eight = {{1, 1, 8, 8}};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto plan_a, session->PlanFor(eight));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto plan_b, session->PlanFor(eight));
  EXPECT_EQ(plan_a.get(), plan_b.get());
  EXPECT_EQ(kBound, session->cached_plans());
}

TEST(SessionTest, RefusesAnEmptyPlanCache) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(Graph{}, {}));
  auto session = Session::Create(model, 0);
  ASSERT_FALSE(session.ok());
  EXPECT_EQ(StatusCode::kInvalidArgument, session.status().code());
}

}  // namespace
}  // namespace fovea::engine::testing
