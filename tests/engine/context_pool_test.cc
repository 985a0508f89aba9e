// ContextPool: idle execution contexts kept within a byte limit, least recently kept freed first, and the session's
// plans sharing one pool (engine/context_pool.h).

#include "engine/context_pool.h"

#include <gtest/gtest.h>

#include "engine/ops/conv.h"
#include "engine/session.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

// A context that counts its own destruction, so the test sees what the pool freed.
struct CountedContext : PooledContext {
  explicit CountedContext(int* freed) : freed(freed) {}
  ~CountedContext() override { ++*freed; }
  int* freed;
};

TEST(ContextPoolTest, KeepsWithinTheLimitFreeingTheLeastRecentlyKept) {
  int freed = 0;
  ContextPool pool(100);
  const int a = 0, b = 0;  // two owners, told apart by address
  pool.Keep(&a, std::make_unique<CountedContext>(&freed), 40);
  pool.Keep(&b, std::make_unique<CountedContext>(&freed), 40);
  EXPECT_EQ(80u, pool.idle_bytes());
  EXPECT_EQ(0, freed);
  // 40 more do not fit beside 80: the oldest (a's) goes.
  pool.Keep(&b, std::make_unique<CountedContext>(&freed), 40);
  EXPECT_EQ(1, freed);
  EXPECT_EQ(80u, pool.idle_bytes());
  EXPECT_EQ(nullptr, pool.Take(&a));
  const std::unique_ptr<PooledContext> taken = pool.Take(&b);  // handed back, not freed
  ASSERT_NE(nullptr, taken);
  EXPECT_EQ(1, freed);
  EXPECT_EQ(40u, pool.idle_bytes());
}

TEST(ContextPoolTest, MakesRoomBeforeAnAllocation) {
  int freed = 0;
  ContextPool pool(100);
  const int a = 0, b = 0;
  pool.Keep(&a, std::make_unique<CountedContext>(&freed), 30);
  pool.Keep(&b, std::make_unique<CountedContext>(&freed), 30);
  pool.MakeRoom(50);  // 60 + 50 > 100: the oldest goes, 30 + 50 fits
  EXPECT_EQ(1, freed);
  EXPECT_EQ(30u, pool.idle_bytes());
  pool.Forget(&b);
  EXPECT_EQ(2, freed);
  EXPECT_EQ(0u, pool.idle_contexts());
}

TEST(ContextPoolTest, OneContextLargerThanTheLimitIsKeptAloneUntilAnotherIsAllocated) {
  int freed = 0;
  ContextPool pool(100);
  const int a = 0, b = 0;
  pool.Keep(&a, std::make_unique<CountedContext>(&freed), 30);
  pool.Keep(&b, std::make_unique<CountedContext>(&freed), 150);  // frees a's, and stays
  EXPECT_EQ(1, freed);
  EXPECT_EQ(150u, pool.idle_bytes());
  std::unique_ptr<PooledContext> again = pool.Take(&b);  // the same shape again reuses it
  ASSERT_NE(nullptr, again);
  pool.Keep(&b, std::move(again), 150);
  EXPECT_EQ(1, freed);
  pool.MakeRoom(10);  // any other allocation frees it
  EXPECT_EQ(2, freed);
  EXPECT_EQ(0u, pool.idle_bytes());
}

// Two convolutions of any size: the 16-channel value between them lives in the run's arena.
Graph TwoConvsOfFreeSize() {
  Graph graph;
  graph.inputs.push_back({"x", DataType::kFloat32, {-1, 4, -1, -1}});
  graph.initializers["w1"] = RandomTensor({16, 4, 3, 3}, 4);
  graph.initializers["w2"] = RandomTensor({4, 16, 3, 3}, 5);
  AddNode(graph, "conv1", ops::Conv::Create({}), {"x", "w1"}, {"h"});
  AddNode(graph, "conv2", ops::Conv::Create({}), {"h", "w2"}, {"y"});
  graph.outputs.push_back({"y", DataType::kFloat32, {}});
  return graph;
}

// The bytes one run of `graph` on a size×size image keeps idle afterwards.
size_t ContextBytesAt(const std::shared_ptr<const Model>& model, int64_t size) {
  auto session = Session::Create(model);
  EXPECT_TRUE(session.ok());
  EXPECT_TRUE((*session)->Run(std::vector<Tensor>{RandomTensor({1, 4, size, size}, 1)}).ok());
  return (*session)->contexts().idle_bytes();
}

TEST(ContextPoolTest, ASessionsPlansShareOneBoundedPool) {
  const Graph graph = TwoConvsOfFreeSize();
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(graph, {}));
  // Room for one 64x64 run's context but not for two of the sizes below: each new size must free the last one's.
  const size_t largest = ContextBytesAt(model, 64);
  ASSERT_GT(largest, size_t{16 * 60 * 60 * 4});  // the value between the convolutions
  const size_t limit = largest + largest / 5;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model, kDefaultMaxCachedPlans, limit));
  for (int64_t size : {64, 60, 56, 64, 60}) {
    const Tensor x = RandomTensor({1, 4, size, size}, static_cast<uint32_t>(size));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(graph, std::vector<Tensor>{x}));
    FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, session->Run(std::vector<Tensor>{x}));
    EXPECT_TRUE(TensorsNear(expected[0], actual[0])) << "size " << size;
    EXPECT_LE(session->contexts().idle_bytes(), limit);
    EXPECT_EQ(1u, session->contexts().idle_contexts()) << "size " << size;
  }
  EXPECT_EQ(3u, session->cached_plans());
}

TEST(ContextPoolTest, AnEvictedPlanFreesWhatItKept) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(TwoConvsOfFreeSize(), {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model, /*max_cached_plans=*/2));
  for (int64_t size : {8, 9, 10, 11}) {
    ASSERT_TRUE(session->Run(std::vector<Tensor>{RandomTensor({1, 4, size, size}, 1)}).ok());
  }
  EXPECT_EQ(2u, session->cached_plans());
  EXPECT_EQ(2u, session->contexts().idle_contexts());
}

}  // namespace
}  // namespace fovea::engine::testing
