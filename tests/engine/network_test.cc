// A small 5-conv GAP CNN end to end: Session against the reference interpreter at several batch sizes, arena reuse,
// and one Session shared by many threads.

#include <atomic>
#include <cmath>
#include <thread>

#include <gtest/gtest.h>

#include "engine/model.h"
#include "engine/ops/activation.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pool.h"
#include "engine/threading.h"
#include "tests/engine/test_util.h"

namespace fovea::engine::testing {
namespace {

constexpr int64_t kImageSize = 28;
constexpr int64_t kClasses = 10;
constexpr int kThreads = 8;
constexpr int kRunsPerThread = 40;

// Uniform weights in ±1/sqrt(fan_in) keep activations of order one through the depth of the network.
Tensor Weights(const Shape& shape, uint32_t seed) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(NumElements(shape) / shape[0]));
  return RandomTensor(shape, seed, -bound, bound);
}

void AddConvRelu(Graph& g, const std::string& name, int64_t in, int64_t out, const std::string& x,
                 const std::string& y) {
  ops::ConvParams params;
  params.window.pads_begin = params.window.pads_end = {1, 1};
  g.initializers[name + ".w"] = Weights({out, in, 3, 3}, static_cast<uint32_t>(g.initializers.size()));
  g.initializers[name + ".b"] = RandomTensor({out}, static_cast<uint32_t>(g.initializers.size()), -0.1f, 0.1f);
  AddNode(g, name, ops::Conv::Create(params), {x, name + ".w", name + ".b"}, {name + ".pre"});
  AddNode(g, name + ".relu", ops::Activation::Create({ops::ActivationKind::kRelu}), {name + ".pre"}, {y});
}

void AddMaxPool(Graph& g, const std::string& name, const std::string& x, const std::string& y) {
  ops::PoolParams params;
  params.window.kernel = params.window.strides = {2, 2};
  AddNode(g, name, ops::Pool::Create(params), {x}, {y});
}

// conv 1→32, 32→32, maxpool, 32→64, 64→64, maxpool, 64→128, global average pool, flatten, Gemm 128→10.
Graph FiveConvNet() {
  Graph g;
  g.inputs = {{"image", DataType::kFloat32, {-1, 1, kImageSize, kImageSize}}};
  AddConvRelu(g, "conv1", 1, 32, "image", "a1");
  AddConvRelu(g, "conv2", 32, 32, "a1", "a2");
  AddMaxPool(g, "pool1", "a2", "p1");
  AddConvRelu(g, "conv3", 32, 64, "p1", "a3");
  AddConvRelu(g, "conv4", 64, 64, "a3", "a4");
  AddMaxPool(g, "pool2", "a4", "p2");
  AddConvRelu(g, "conv5", 64, 128, "p2", "a5");
  ops::PoolParams gap;
  gap.kind = ops::PoolParams::Kind::kAverage;
  gap.global = true;
  AddNode(g, "gap", ops::Pool::Create(gap), {"a5"}, {"pooled"});
  AddNode(g, "flatten", ops::Flatten::Create({.axis = 1}), {"pooled"}, {"features"});
  g.initializers["fc.w"] = Weights({kClasses, 128}, 99);
  g.initializers["fc.b"] = RandomTensor({kClasses}, 100);
  AddNode(g, "fc", ops::Gemm::Create({.trans_b = true}), {"features", "fc.w", "fc.b"}, {"logits"});
  g.outputs = {{"logits", DataType::kFloat32, {-1, kClasses}}};
  return g;
}

Tensor Images(int64_t batch, uint32_t seed) { return RandomTensor({batch, 1, kImageSize, kImageSize}, seed, 0, 1); }

class FiveConvNetTest : public ::testing::TestWithParam<std::tuple<int64_t, bool>> {};

TEST_P(FiveConvNetTest, SessionMatchesReferenceInterpreter) {
  const auto [batch, optimize] = GetParam();
  const Graph g = FiveConvNet();
  const std::vector<Tensor> inputs = {Images(batch, static_cast<uint32_t>(batch))};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto expected, RunReference(g, inputs));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto actual, RunSession(g, inputs, optimize));
  ASSERT_EQ((Shape{batch, kClasses}), actual[0].shape());
  EXPECT_TRUE(TensorsNear(expected[0], actual[0]));
}

INSTANTIATE_TEST_SUITE_P(Batches, FiveConvNetTest, ::testing::Combine(::testing::Values(1, 3, 64), ::testing::Bool()),
                         [](const auto& info) {
                           return "Batch" + std::to_string(std::get<0>(info.param)) +
                                  (std::get<1>(info.param) ? "_Optimized" : "_Unoptimized");
                         });

TEST(FiveConvNet, ArenaReusesMemoryAcrossLayers) {
  constexpr int64_t kBatch = 8;
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(FiveConvNet(), {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  const Shape input = {kBatch, 1, kImageSize, kImageSize};
  FOVEA_ASSERT_OK_AND_ASSIGN(auto plan, session->PlanFor(std::span<const Shape>(&input, 1)));
  // Every intermediate value once: conv outputs (ReLU fused), pools, GAP and logits, in float32.
  const int64_t per_image = 2 * 32 * 28 * 28 + 32 * 14 * 14 + 2 * 64 * 14 * 14 + 64 * 7 * 7 + 128 * 7 * 7 + 128 + 10;
  const size_t sum_of_buffers = static_cast<size_t>(per_image * kBatch) * sizeof(float);
  EXPECT_LT(plan->activation_bytes(), sum_of_buffers);
  EXPECT_GT(plan->activation_bytes(), static_cast<size_t>(2 * 32 * 28 * 28 * kBatch) * sizeof(float) / 2);
  EXPECT_EQ(plan->arena_bytes(), plan->activation_bytes() + plan->scratchpad_bytes());
}

TEST(FiveConvNet, ConcurrentRunsMatchSingleThreadedRuns) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(FiveConvNet(), {}));
  const std::vector<int64_t> batches = {1, 2, 5, 8, 16, 3};
  std::vector<Tensor> inputs, expected;
  {
    FOVEA_ASSERT_OK_AND_ASSIGN(auto single_threaded, Session::Create(model));
    for (int64_t batch : batches) {
      inputs.push_back(Images(batch, static_cast<uint32_t>(1000 + batch)));
      FOVEA_ASSERT_OK_AND_ASSIGN(auto out, single_threaded->Run(std::vector<Tensor>{inputs.back()}));
      expected.push_back(out[0]);
    }
  }
  // A fresh session, so that threads also race to compile the plans of new batch sizes.
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  std::atomic<int> failures{0}, mismatches{0}, runs{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRunsPerThread; ++r) {
        const size_t which = static_cast<size_t>(t + r) % batches.size();
        auto out = session->Run(std::vector<Tensor>{inputs[which]});
        ++runs;
        if (!out.ok()) {
          ++failures;
        } else if (!TensorsNear(expected[which], (*out)[0], 0.0f)) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(kThreads * kRunsPerThread, runs.load());
  EXPECT_EQ(0, failures.load());
  EXPECT_EQ(0, mismatches.load());
  EXPECT_EQ(batches.size(), session->cached_plans());
}

// oneDNN fixes a primitive's thread count when it is created, so a plan compiled for a team of 2 must not be handed
// to a thread that was given 1 (a server's single-thread instances would each run a team of 2).
TEST(FiveConvNet, PlansAreCompiledPerComputeTeamSize) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(FiveConvNet(), {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  const Shape input = {4, 1, kImageSize, kImageSize};
  const Tensor images = Images(4, 7);
  std::vector<Tensor> outputs;
  for (int threads : {2, 1, 2, 1}) {
    const ScopedComputeThreads team(threads);
    ASSERT_EQ(threads, ComputeThreadsForThisThread());
    FOVEA_ASSERT_OK_AND_ASSIGN(auto out, session->Run(std::vector<Tensor>{images}));
    outputs.push_back(out[0]);
  }
  EXPECT_EQ(2u, session->cached_plans());
  FOVEA_ASSERT_OK_AND_ASSIGN(auto plan_for_one, [&] {
    const ScopedComputeThreads team(1);
    return session->PlanFor(std::span<const Shape>(&input, 1));
  }());
  FOVEA_ASSERT_OK_AND_ASSIGN(auto plan_for_two, [&] {
    const ScopedComputeThreads team(2);
    return session->PlanFor(std::span<const Shape>(&input, 1));
  }());
  EXPECT_NE(plan_for_one.get(), plan_for_two.get());
  for (const Tensor& output : outputs) EXPECT_TRUE(TensorsNear(outputs[0], output));
}

TEST(FiveConvNet, PlansOfDifferentBatchSizesShareTheirWeights) {
  FOVEA_ASSERT_OK_AND_ASSIGN(auto model, Model::Create(FiveConvNet(), {}));
  FOVEA_ASSERT_OK_AND_ASSIGN(auto session, Session::Create(model));
  const auto compile = [&](int64_t batch) {
    const Shape input = {batch, 1, kImageSize, kImageSize};
    return session->PlanFor(std::span<const Shape>(&input, 1)).status();
  };
  ASSERT_TRUE(compile(2).ok());
  const size_t one_plan = session->shared_constants();
  ASSERT_GT(one_plan, 0u);
  ASSERT_TRUE(compile(4).ok());
  ASSERT_TRUE(compile(8).ok());
  // oneDNN's weight layouts rarely depend on the batch size (Winograd's on this CPU differ only at batch 1), so three
  // plans hold (nearly) one set of reordered weights, not three.
  EXPECT_LT(session->shared_constants(), 2 * one_plan);
  EXPECT_EQ(3u, session->cached_plans());
}

TEST(SharedConstants, SharesOnlyTheModelsTensorsOneMemoryPerLayout) {
  const Tensor weights = Images(2, 3);
  SharedConstants shared({{"w", weights}});
  EXPECT_TRUE(shared.Shares(weights));
  EXPECT_TRUE(shared.Shares(weights.Reshaped({2 * kImageSize * kImageSize}).value()));
  EXPECT_FALSE(shared.Shares(weights.Clone()));

  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  const dnnl::memory::desc plain = PlainDesc(weights.shape());
  const dnnl::memory::desc transposed(ToDims(weights.shape()), dnnl::memory::data_type::f32,
                                      dnnl::memory::format_tag::abdc);
  int made = 0;
  const auto make = [&](const dnnl::memory::desc& desc) {
    return [&, desc] {
      ++made;
      return dnnl::memory(desc, engine);
    };
  };
  const dnnl::memory first = shared.Get(weights, plain, make(plain));
  const dnnl::memory again = shared.Get(weights, plain, make(plain));
  const dnnl::memory other_layout = shared.Get(weights, transposed, make(transposed));
  EXPECT_EQ(first.get_data_handle(), again.get_data_handle());
  EXPECT_NE(first.get_data_handle(), other_layout.get_data_handle());
  EXPECT_EQ(2, made);
  EXPECT_EQ(2u, shared.size());
}

TEST(ScopedComputeThreads, RestoresTheThreadsTeamSize) {
  const int before = ComputeThreadsForThisThread();
  {
    const ScopedComputeThreads team(before + 3);
    EXPECT_EQ(before + 3, ComputeThreadsForThisThread());
  }
  EXPECT_EQ(before, ComputeThreadsForThisThread());
}

}  // namespace
}  // namespace fovea::engine::testing
