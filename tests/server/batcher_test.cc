// The dynamic batcher with a fake model: deterministic because the fake can hold a batch until the test releases it,
// so what queues behind it is known exactly.

#include "server/models/batcher.h"

#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <numeric>
#include <optional>
#include <thread>

#include "server/ops/metrics.h"

namespace fovea::server {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kImageElements = 4;  // each fake image is [2, 2]
// Every wait in these tests gives up after this long, so a batcher that stops answering fails the test with a message
// instead of hanging it until CTest's timeout. Generous: the slowest run here takes well under a second.
constexpr auto kWaitLimit = std::chrono::seconds(30);
const engine::Shape kImageShape = {2, 2};

// A model with two outputs: float32 [n, 1], the sum of each image's elements, and int64 [n, 2], each image's row in
// the engine batch and its sum rounded. It records every batch size and can be held.
class FakeModel {
 public:
  BatchFunction Function() {
    return [this](const engine::Tensor& batch) -> StatusOr<std::vector<engine::Tensor>> {
      {
        std::unique_lock lock(mutex_);
        batch_sizes_.push_back(batch.dim(0));
        ++started_;
        changed_.notify_all();
        // Bounded so that a test which fails while holding still unwinds: the Batcher's destructor joins this thread.
        if (!changed_.wait_for(lock, kWaitLimit, [this] { return !held_; })) {
          ADD_FAILURE() << "a held batch was not released within " << kWaitLimit.count() << " s";
        }
      }
      if (fail_) return Internal("fake engine failure");
      std::vector<float> sums;
      std::vector<int64_t> positions;
      const std::span<const float> values = batch.floats();
      for (int64_t i = 0; i < batch.dim(0); ++i) {
        const auto row = values.subspan(static_cast<size_t>(i * kImageElements), kImageElements);
        sums.push_back(std::accumulate(row.begin(), row.end(), 0.0F));
        positions.insert(positions.end(), {i, std::lround(sums.back())});
      }
      return std::vector<engine::Tensor>{engine::Tensor::FromFloats({batch.dim(0), 1}, sums),
                                         engine::Tensor::FromInt64s({batch.dim(0), 2}, positions)};
    };
  }

  void Hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void Release() {
    std::lock_guard lock(mutex_);
    held_ = false;
    changed_.notify_all();
  }
  // Waits until `count` batches have started running; false if they have not within kWaitLimit.
  [[nodiscard]] bool WaitForStarted(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kWaitLimit, [&] { return started_ >= count; });
  }
  std::vector<int64_t> batch_sizes() {
    std::lock_guard lock(mutex_);
    return batch_sizes_;
  }
  void FailRuns() { fail_ = true; }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool held_ = false;
  int started_ = 0;
  std::atomic<bool> fail_{false};
  std::vector<int64_t> batch_sizes_;
};

// What one item's completion delivered.
struct Outcome {
  Status status;
  std::vector<float> rows;           // the first output's
  engine::Shape second_shape;        // the second output's shape for this item
  std::vector<int64_t> second_rows;  // and its rows
};

// An item of `count` images whose elements all equal `value`, and a future for its outcome.
std::pair<BatchItem, std::future<Outcome>> MakeItem(int64_t count, float value) {
  auto promise = std::make_shared<std::promise<Outcome>>();
  BatchItem item;
  std::vector<float> values(static_cast<size_t>(count * kImageElements), value);
  item.images = engine::Tensor::FromFloats({count, 2, 2}, values);
  item.done = [promise](StatusOr<BatchRows> rows) {
    Outcome outcome;
    if (rows.ok()) {
      const std::span<const float> first = rows->floats(0);
      outcome.rows.assign(first.begin(), first.end());
      outcome.second_shape = rows->shape(1);
      const std::span<const std::byte> second = rows->bytes(1);
      outcome.second_rows.resize(second.size() / sizeof(int64_t));
      std::memcpy(outcome.second_rows.data(), second.data(), second.size());
    } else {
      outcome.status = rows.status();
    }
    promise->set_value(outcome);
  };
  return {std::move(item), promise->get_future()};
}

// The outcome `done` delivers, waiting at most kWaitLimit. On a timeout the test fails, and the outcome returned (no
// rows, an UNAVAILABLE status) fails the caller's own expectation on its line too. (Not std::source_location: clang 14,
// which builds the sanitizer subset and runs clang-tidy, lacks the builtin libstdc++'s version needs.)
Outcome Await(std::future<Outcome>& done) {
  if (done.wait_for(kWaitLimit) != std::future_status::ready) {
    ADD_FAILURE() << "the batcher did not answer within " << kWaitLimit.count() << " s";
    return {Status(StatusCode::kUnavailable, "no answer from the batcher"), {}, {}, {}};
  }
  return done.get();
}

BatchingOptions Options(int64_t max_batch_size, int64_t max_queue_size = 100, int64_t delay_us = 0) {
  BatchingOptions options;
  options.max_batch_size = max_batch_size;
  options.max_queue_size = max_queue_size;
  options.max_queue_delay_us = delay_us;
  options.instances = 1;
  options.compute_threads = 1;
  return options;
}

TEST(BatcherTest, RequestsQueuedBehindABusyInstanceRunAsOneBatchAndGetTheirOwnRows) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64), model.Function());
  model.Hold();
  auto [first, first_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(first)).ok());
  ASSERT_TRUE(model.WaitForStarted(1));
  const std::vector<int64_t> counts = {1, 2, 1, 4};  // 8 images: one full compiled size
  std::vector<std::future<Outcome>> outcomes;
  for (size_t i = 0; i < counts.size(); ++i) {
    auto [item, done] = MakeItem(counts[i], static_cast<float>(i + 2));
    ASSERT_TRUE(batcher.Submit(std::move(item)).ok());
    outcomes.push_back(std::move(done));
  }
  model.Release();
  EXPECT_EQ(Await(first_done).rows, std::vector<float>{4.0F});
  for (size_t i = 0; i < counts.size(); ++i) {
    const Outcome outcome = Await(outcomes[i]);
    ASSERT_TRUE(outcome.status.ok()) << outcome.status.ToString();
    const float sum = static_cast<float>(i + 2) * kImageElements;
    EXPECT_EQ(outcome.rows, std::vector<float>(static_cast<size_t>(counts[i]), sum)) << "item " << i;
  }
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{1, 8}));
}

TEST(BatcherTest, EveryOutputIsSplitByRowsInItsOwnElementType) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64), model.Function());
  model.Hold();
  auto [first, first_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(first)).ok());
  ASSERT_TRUE(model.WaitForStarted(1));
  // Items of 1, 3 and 4 images run as one batch of 8: rows 0, 1-3 and 4-7 of each output.
  auto [one, one_done] = MakeItem(1, 1.0F);
  auto [three, three_done] = MakeItem(3, 2.0F);
  auto [four, four_done] = MakeItem(4, 3.0F);
  for (BatchItem* item : {&one, &three, &four}) ASSERT_TRUE(batcher.Submit(std::move(*item)).ok());
  model.Release();
  ASSERT_TRUE(Await(first_done).status.ok());
  const Outcome a = Await(one_done);
  const Outcome b = Await(three_done);
  const Outcome c = Await(four_done);
  EXPECT_EQ(a.second_shape, (engine::Shape{1, 2}));
  EXPECT_EQ(a.second_rows, (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(b.second_shape, (engine::Shape{3, 2}));
  EXPECT_EQ(b.second_rows, (std::vector<int64_t>{1, 8, 2, 8, 3, 8}));
  EXPECT_EQ(c.second_shape, (engine::Shape{4, 2}));
  EXPECT_EQ(c.second_rows, (std::vector<int64_t>{4, 12, 5, 12, 6, 12, 7, 12}));
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{1, 8}));
}

TEST(BatcherTest, EngineBatchesComeOnlyInCompiledSizes) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(24), model.Function());
  EXPECT_EQ(batcher.BatchSizes(), (std::vector<int64_t>{1, 2, 4, 8, 16, 24}));
  model.Hold();
  auto [first, first_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(first)).ok());
  ASSERT_TRUE(model.WaitForStarted(1));
  // 5 batch-1 items behind it: 4 run together (a compiled size), the fifth right after, alone.
  std::vector<std::future<Outcome>> singles;
  for (int i = 0; i < 5; ++i) {
    auto [item, done] = MakeItem(1, static_cast<float>(i));
    ASSERT_TRUE(batcher.Submit(std::move(item)).ok());
    singles.push_back(std::move(done));
  }
  model.Release();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Await(singles[static_cast<size_t>(i)]).rows, std::vector<float>{i * 4.0F});
  model.Hold();
  auto [blocker, blocker_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(blocker)).ok());
  ASSERT_TRUE(model.WaitForStarted(4));
  // Whole items of 3 and 2 images: the batch aims at 4, takes the 3 and pads it with one zero image (rows
  // unaffected); the 2 runs next at its own compiled size.
  auto [triple, triple_done] = MakeItem(3, 1.0F);
  auto [pair, pair_done] = MakeItem(2, 3.0F);
  ASSERT_TRUE(batcher.Submit(std::move(triple)).ok());
  ASSERT_TRUE(batcher.Submit(std::move(pair)).ok());
  model.Release();
  EXPECT_EQ(Await(triple_done).rows, (std::vector<float>{4.0F, 4.0F, 4.0F}));
  EXPECT_EQ(Await(pair_done).rows, (std::vector<float>{12.0F, 12.0F}));
  EXPECT_TRUE(Await(first_done).status.ok());
  EXPECT_TRUE(Await(blocker_done).status.ok());
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{1, 4, 1, 1, 4, 2}));
}

TEST(BatcherTest, BatchesNeverExceedMaxBatchSizeAndKeepArrivalOrder) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(3), model.Function());
  model.Hold();
  std::vector<std::future<Outcome>> outcomes;
  for (int64_t count : {1, 2, 2, 1, 1, 5}) {  // the 5-image item is larger than a batch: it runs alone
    auto [item, done] = MakeItem(count, 1.0F);
    ASSERT_TRUE(batcher.Submit(std::move(item)).ok());
    outcomes.push_back(std::move(done));
    if (outcomes.size() == 1) {
      ASSERT_TRUE(model.WaitForStarted(1));
    }
  }
  model.Release();
  for (auto& outcome : outcomes) EXPECT_TRUE(Await(outcome).status.ok());
  // Queued behind the first: [2] (2 + 2 > 3), [2, 1], [1] (1 + 5 > 3), [5] alone.
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{1, 2, 3, 1, 5}));
}

TEST(BatcherTest, AFullQueueRefusesWithResourceExhaustedNamingTheModelAndLimit) {
  FakeModel model;
  Batcher batcher("tiny:2", kImageShape, Options(64, /*max_queue_size=*/1), model.Function());
  model.Hold();
  auto [running, running_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(running)).ok());
  ASSERT_TRUE(model.WaitForStarted(1));  // the running item no longer counts against the queue
  auto [queued, queued_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(queued)).ok());
  auto [refused, refused_done] = MakeItem(1, 1.0F);
  const Status status = batcher.Submit(std::move(refused));
  EXPECT_EQ(status.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(status.message().find("tiny:2"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("max_queue_size 1"), std::string::npos) << status.message();
  model.Release();
  EXPECT_TRUE(Await(running_done).status.ok());
  EXPECT_TRUE(Await(queued_done).status.ok());
}

TEST(BatcherTest, WorkWhoseDeadlinePassedInTheQueueIsAnsweredButNeverComputed) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64), model.Function());
  model.Hold();
  auto [running, running_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(running)).ok());
  ASSERT_TRUE(model.WaitForStarted(1));
  auto [late, late_done] = MakeItem(1, 1.0F);
  late.deadline = BatchClock::now() + milliseconds(5);
  ASSERT_TRUE(batcher.Submit(std::move(late)).ok());
  std::this_thread::sleep_for(milliseconds(20));
  model.Release();
  EXPECT_TRUE(Await(running_done).status.ok());
  const Outcome outcome = Await(late_done);
  EXPECT_EQ(outcome.status.code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(outcome.status.message().find("not computed"), std::string::npos);
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{1})) << "the expired item must not reach the model";
}

TEST(BatcherTest, ADeadlineAlreadyPassedIsRefusedAtSubmit) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64), model.Function());
  auto [item, done] = MakeItem(1, 1.0F);
  item.deadline = BatchClock::now() - milliseconds(1);
  EXPECT_EQ(batcher.Submit(std::move(item)).code(), StatusCode::kDeadlineExceeded);
}

TEST(BatcherTest, CancelledWorkIsDroppedBeforeItRuns) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64), model.Function());
  model.Hold();
  auto [running, running_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(running)).ok());
  ASSERT_TRUE(model.WaitForStarted(1));
  auto cancelled = std::make_shared<std::atomic<bool>>(false);
  auto [item, done] = MakeItem(1, 1.0F);
  item.cancelled = [cancelled] { return cancelled->load(); };
  ASSERT_TRUE(batcher.Submit(std::move(item)).ok());
  cancelled->store(true);
  model.Release();
  EXPECT_EQ(Await(done).status.code(), StatusCode::kCancelled);
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{1}));
}

TEST(BatcherTest, ImagesOfTheWrongShapeAreRefused) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64), model.Function());
  BatchItem item;
  item.images = engine::Tensor(engine::DataType::kFloat32, {1, 3, 2});
  item.done = [](StatusOr<BatchRows>) {};
  const Status status = batcher.Submit(std::move(item));
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("[1, 3, 2]"), std::string::npos) << status.message();
}

TEST(BatcherTest, AFullBatchRunsWithoutWaitingForTheQueueDelay) {
  FakeModel model;
  // A 60 s delay: if a full batch waited for it, the test would time out.
  Batcher batcher("m:1", kImageShape, Options(2, 100, 60'000'000), model.Function());
  auto [a, a_done] = MakeItem(1, 1.0F);
  auto [b, b_done] = MakeItem(1, 2.0F);
  ASSERT_TRUE(batcher.Submit(std::move(a)).ok());
  ASSERT_TRUE(batcher.Submit(std::move(b)).ok());
  EXPECT_EQ(Await(a_done).rows, std::vector<float>{4.0F});
  EXPECT_EQ(Await(b_done).rows, std::vector<float>{8.0F});
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{2}));
}

TEST(BatcherTest, TheQueueDelayGathersRequestsThatArriveApart) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64, 100, /*delay_us=*/2'000'000), model.Function());
  auto [a, a_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(a)).ok());
  std::this_thread::sleep_for(milliseconds(50));  // well inside the 2 s delay
  auto [b, b_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(b)).ok());
  EXPECT_TRUE(Await(a_done).status.ok());
  EXPECT_TRUE(Await(b_done).status.ok());
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{2}));
}

TEST(BatcherTest, AnEngineErrorAnswersEveryItemOfTheBatch) {
  FakeModel model;
  model.FailRuns();
  Batcher batcher("m:1", kImageShape, Options(2, 100, 60'000'000), model.Function());
  auto [a, a_done] = MakeItem(1, 1.0F);
  auto [b, b_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(a)).ok());
  ASSERT_TRUE(batcher.Submit(std::move(b)).ok());
  for (auto* done : {&a_done, &b_done}) {
    const Outcome outcome = Await(*done);
    EXPECT_EQ(outcome.status.code(), StatusCode::kInternal);
    EXPECT_NE(outcome.status.message().find("fake engine failure"), std::string::npos);
  }
}

TEST(BatcherTest, StopAnswersEverythingQueuedThenRefusesNewWork) {
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(1, 100, 60'000'000), model.Function());
  model.Hold();
  std::vector<std::future<Outcome>> outcomes;
  for (int i = 0; i < 4; ++i) {
    auto [item, done] = MakeItem(1, 1.0F);
    ASSERT_TRUE(batcher.Submit(std::move(item)).ok());
    outcomes.push_back(std::move(done));
  }
  ASSERT_TRUE(model.WaitForStarted(1));
  auto stopped = std::async(std::launch::async, [&] { batcher.Stop(); });
  model.Release();
  ASSERT_EQ(stopped.wait_for(kWaitLimit), std::future_status::ready) << "Stop() did not return";
  for (auto& outcome : outcomes) EXPECT_TRUE(Await(outcome).status.ok());
  EXPECT_EQ(model.batch_sizes(), (std::vector<int64_t>{1, 1, 1, 1}));
  auto [late, late_done] = MakeItem(1, 1.0F);
  EXPECT_EQ(batcher.Submit(std::move(late)).code(), StatusCode::kUnavailable);
}

TEST(BatcherTest, SeveralInstancesRunBatchesAtTheSameTime) {
  FakeModel model;
  BatchingOptions options = Options(1);
  options.instances = 2;
  Batcher batcher("m:1", kImageShape, options, model.Function());
  model.Hold();
  auto [a, a_done] = MakeItem(1, 1.0F);
  auto [b, b_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(a)).ok());
  ASSERT_TRUE(batcher.Submit(std::move(b)).ok());
  ASSERT_TRUE(model.WaitForStarted(2));  // both held at once: two instances are inside the model
  model.Release();
  EXPECT_TRUE(Await(a_done).status.ok());
  EXPECT_TRUE(Await(b_done).status.ok());
}

TEST(BatcherTest, MetricsCountImagesExecutionsAndBatchSizes) {
  Metrics metrics;
  FakeModel model;
  Batcher batcher("m:1", kImageShape, Options(64), model.Function(), &metrics.ForModel("m", 1));
  model.Hold();
  auto [first, first_done] = MakeItem(1, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(first)).ok());
  ASSERT_TRUE(model.WaitForStarted(1));
  auto [second, second_done] = MakeItem(2, 1.0F);
  auto [third, third_done] = MakeItem(2, 1.0F);
  ASSERT_TRUE(batcher.Submit(std::move(second)).ok());
  ASSERT_TRUE(batcher.Submit(std::move(third)).ok());
  EXPECT_NE(metrics.Render().find("fovea_pending_requests{model=\"m\"} 2"), std::string::npos) << metrics.Render();
  model.Release();
  for (auto* done : {&first_done, &second_done, &third_done}) EXPECT_TRUE(Await(*done).status.ok());
  batcher.Stop();
  const std::string text = metrics.Render();
  EXPECT_NE(text.find("fovea_inference_count_total{model=\"m\"} 5"), std::string::npos) << text;
  EXPECT_NE(text.find("fovea_execution_count_total{model=\"m\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("fovea_batch_size_bucket{model=\"m\",le=\"2\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("fovea_batch_size_bucket{model=\"m\",le=\"4\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("fovea_pending_requests{model=\"m\"} 0"), std::string::npos) << text;
}

}  // namespace
}  // namespace fovea::server
