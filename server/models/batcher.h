#pragma once
// Batcher: the dynamic batcher of one served model. Requests hand it preprocessed images; it concatenates the images
// of several requests into one engine batch, runs the model once and hands each request its rows of every output.
//
// Policy: an instance thread takes work as soon as `max_batch_size` images are queued or the oldest queued item has
// waited `max_queue_delay_us`, whichever comes first. Engine batches come in a few sizes only (BatchSizes(): powers
// of two, max_batch_size and the preferred sizes), because the engine compiles a plan per batch size and a compilation
// costs as much as hundreds of runs; the model's owner compiles them up front. An instance aims at the largest of those
// sizes that the queued images fill, takes whole items in arrival order while they fit, and pads the batch with zero
// images up to the next size when whole items do not fill it exactly. Items are never split; one larger than
// `max_batch_size` runs alone, at its own size. What is left stays queued for the next run, which starts at once. Items
// whose deadline has passed or whose call was cancelled are answered DEADLINE_EXCEEDED / CANCELLED at that moment and
// never computed. At most `max_queue_size` items wait (items being computed do not count); Submit refuses more with
// RESOURCE_EXHAUSTED.
//
// Threading contract:
// - Submit() may be called from any thread, concurrently. It never blocks on inference and never calls `done`.
// - `done` runs exactly once for every accepted item, always on one of the batcher's instance threads (Stop() lets
//   the instances answer everything queued). `done` must not block for long and must not call Stop() or destroy
//   the Batcher.
// - `cancelled` is called on instance threads while the batcher's lock is held: it must be cheap and must not call
//   back into the Batcher (grpc::ServerContext::IsCancelled() is fine).
// - Each instance thread sets its oneDNN team size to `compute_threads` once, then runs batches one after another;
//   `instances` threads may run the model at the same time (Session::Run is thread-safe).
// Ownership: the Batcher owns its queue, threads and BatchFunction; anything the function refers to without owning it
// must outlive the Batcher. The destructor joins the instance threads, so it must not run on one of them.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_pool.h"
#include "engine/tensor.h"

namespace fovea::server {

class ModelMetrics;

using BatchClock = std::chrono::steady_clock;

// How one model batches. Defaults come from server flags; models/<name>/config.txt may override them.
struct BatchingOptions {
  int64_t max_batch_size = 64;       // images per engine run
  int64_t max_queue_delay_us = 500;  // longest the oldest queued item waits for company
  int64_t max_queue_size = 1024;     // items (requests) waiting; more → RESOURCE_EXHAUSTED
  int instances = 1;                 // threads running this model's batches in parallel
  int compute_threads = 1;           // oneDNN threads of each instance
  // Engine batch sizes to form besides the powers of two (config.pbtxt's dynamic_batching.preferred_batch_size):
  // a batch of exactly such a size runs without padding.
  std::vector<int64_t> preferred_batch_sizes;
};

// Runs the model on `batch` ([n, ...] float32) and returns every output of the graph, each with n leading rows.
using BatchFunction = std::function<StatusOr<std::vector<engine::Tensor>>(const engine::Tensor& batch)>;

// One item's rows of every output of an engine batch: rows [first, first + count) of each. A view, valid only during
// the BatchDone call it is passed to.
class BatchRows {
 public:
  BatchRows(std::span<const engine::Tensor> outputs, int64_t first, int64_t count);

  size_t num_outputs() const { return outputs_.size(); }
  int64_t count() const { return count_; }
  engine::DataType dtype(size_t output) const { return outputs_[output].dtype(); }
  // [count, the output's dimensions after the batch].
  engine::Shape shape(size_t output) const;
  // The rows' elements, row-major, in the output's element type.
  std::span<const std::byte> bytes(size_t output) const;
  // The rows of a float32 output.
  std::span<const float> floats(size_t output) const;

 private:
  std::span<const engine::Tensor> outputs_;
  int64_t first_ = 0;
  int64_t count_ = 0;
};

// Called once with the item's rows of the model's outputs, or with the reason there are none.
using BatchDone = std::function<void(StatusOr<BatchRows> rows)>;

// One unit of work: `images` ([count, ...item shape] float32, already in the model's input layout) and how to answer.
struct BatchItem {
  engine::Tensor images;
  BatchClock::time_point deadline = BatchClock::time_point::max();
  std::function<bool()> cancelled;  // optional
  BatchDone done;
};

class Batcher {
 public:
  // Starts `options.instances` threads. `model_title` ("name:version") appears in error messages; `item_shape` is the
  // shape of one image (e.g. {1, 28, 28}); `metrics` (optional, borrowed, must outlive the Batcher) gets queue,
  // batch and compute observations.
  Batcher(std::string model_title, engine::Shape item_shape, BatchingOptions options, BatchFunction run,
          ModelMetrics* metrics = nullptr);
  // Stop()s the batcher.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues `item`. On an error the item was not accepted and `done` will not be called: INVALID_ARGUMENT for images
  // of the wrong shape, DEADLINE_EXCEEDED for a deadline already passed, RESOURCE_EXHAUSTED when max_queue_size items
  // already wait, UNAVAILABLE after Stop().
  Status Submit(BatchItem item);

  // Refuses new items, lets the instances run everything already queued (without waiting for the queue delay), then
  // joins them. Idempotent.
  void Stop();

  const BatchingOptions& options() const { return options_; }

  // The engine batch sizes this batcher uses (ascending), for compiling their plans before serving.
  const std::vector<int64_t>& BatchSizes() const { return batch_sizes_; }

 private:
  struct Queued {
    BatchItem item;
    BatchClock::time_point enqueued;
  };
  // What one instance took from the queue: the items to run, and those to answer without running.
  struct Taken {
    std::vector<Queued> batch;
    std::vector<std::pair<Queued, Status>> dropped;
  };

  void RunInstance();
  // Blocks until there is work (returns true) or the batcher stopped with an empty queue (returns false).
  bool Take(Taken& taken);
  void WaitForCompany(std::unique_lock<std::mutex>& lock);
  // Moves the next batch into taken.batch and the expired items before it into taken.dropped.
  void TakeBatch(Taken& taken);
  // Why `queued` must not run, or OK.
  Status Expired(const Queued& queued, BatchClock::time_point now) const;
  void Execute(std::vector<Queued>& batch);
  StatusOr<std::vector<engine::Tensor>> RunBatch(const engine::Tensor& input, int64_t rows);
  engine::Tensor Concatenate(const std::vector<Queued>& batch, int64_t rows) const;
  // The largest batch size <= `images` (at least the smallest), and the smallest one >= `images`.
  int64_t SizeAtMost(int64_t images) const;
  int64_t SizeAtLeast(int64_t images) const;

  const std::string model_title_;
  const engine::Shape item_shape_;
  const BatchingOptions options_;
  const BatchFunction run_;
  ModelMetrics* const metrics_;
  const std::vector<int64_t> batch_sizes_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Queued> queue_;
  int64_t queued_images_ = 0;
  bool stopping_ = false;
  // Declared last: its threads run RunInstance over the members above, and stop before they are destroyed.
  common::ThreadPool instances_;
};

}  // namespace fovea::server
