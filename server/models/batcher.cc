#include "server/models/batcher.h"

#include <algorithm>
#include <cstring>
#include <exception>

#include <spdlog/spdlog.h>

#include "engine/threading.h"
#include "server/ops/metrics.h"
#include "server/ops/thread_policy.h"

namespace fovea::server {
namespace {

double MicrosecondsSince(BatchClock::time_point start, BatchClock::time_point end) {
  return std::chrono::duration<double, std::micro>(end - start).count();
}

engine::Shape ItemShapeOf(const engine::Tensor& images) {
  return engine::Shape(images.shape().begin() + (images.rank() > 0 ? 1 : 0), images.shape().end());
}

// Powers of two below `max_batch_size`, then `max_batch_size` itself.
// Powers of two below max_batch_size, max_batch_size itself and the preferred sizes up to it, ascending and unique.
std::vector<int64_t> BatchSizesFor(const BatchingOptions& options) {
  const int64_t max_batch_size = std::max<int64_t>(options.max_batch_size, 1);
  std::vector<int64_t> sizes;
  for (int64_t size = 1; size < max_batch_size; size *= 2) sizes.push_back(size);
  sizes.push_back(max_batch_size);
  for (int64_t size : options.preferred_batch_sizes) {
    if (size >= 1 && size <= max_batch_size) sizes.push_back(size);
  }
  std::sort(sizes.begin(), sizes.end());
  sizes.erase(std::unique(sizes.begin(), sizes.end()), sizes.end());
  return sizes;
}

// Calls `done` without letting an exception escape into the instance thread.
void Answer(const BatchDone& done, StatusOr<BatchRows> rows) {
  try {
    done(std::move(rows));
  } catch (const std::exception& error) {
    spdlog::error("batcher: a completion callback threw: {}", error.what());
  }
}

// Bytes in one row of `output` (all dimensions after the batch).
size_t RowBytes(const engine::Tensor& output) {
  return output.dim(0) == 0 ? 0 : output.byte_size() / static_cast<size_t>(output.dim(0));
}

}  // namespace

BatchRows::BatchRows(std::span<const engine::Tensor> outputs, int64_t first, int64_t count)
    : outputs_(outputs), first_(first), count_(count) {}

engine::Shape BatchRows::shape(size_t output) const {
  engine::Shape shape = outputs_[output].shape();
  shape[0] = count_;
  return shape;
}

std::span<const std::byte> BatchRows::bytes(size_t output) const {
  const engine::Tensor& tensor = outputs_[output];
  const size_t row_bytes = RowBytes(tensor);
  const auto* data = static_cast<const std::byte*>(tensor.raw_data());
  return {data + static_cast<size_t>(first_) * row_bytes, static_cast<size_t>(count_) * row_bytes};
}

std::span<const float> BatchRows::floats(size_t output) const {
  const std::span<const std::byte> raw = bytes(output);
  return {reinterpret_cast<const float*>(raw.data()), raw.size() / sizeof(float)};
}

Batcher::Batcher(std::string model_title, engine::Shape item_shape, BatchingOptions options, BatchFunction run,
                 ModelMetrics* metrics)
    : model_title_(std::move(model_title)),
      item_shape_(std::move(item_shape)),
      options_(options),
      run_(std::move(run)),
      metrics_(metrics),
      batch_sizes_(BatchSizesFor(options_)),
      instances_("fovea-instance", std::max(options_.instances, 1)) {
  // One instance loop per thread, each until Stop() drains the queue.
  for (int i = 0; i < std::max(options_.instances, 1); ++i) instances_.Submit([this] { RunInstance(); });
}

Batcher::~Batcher() { Stop(); }

Status Batcher::Submit(BatchItem item) {
  if (item.images.dtype() != engine::DataType::kFloat32 || item.images.rank() < 1 || item.images.dim(0) < 1 ||
      ItemShapeOf(item.images) != item_shape_) {
    return InvalidArgument("model '" + model_title_ + "' takes float32 images of shape [count, " +
                           engine::ShapeToString(item_shape_) + "], got " + engine::ShapeToString(item.images.shape()));
  }
  const BatchClock::time_point now = BatchClock::now();
  if (item.deadline <= now) {
    return {StatusCode::kDeadlineExceeded,
            "the request's deadline passed before it reached model '" + model_title_ + "'; it was not computed"};
  }
  const int64_t images = item.images.dim(0);
  bool batch_full = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return {StatusCode::kUnavailable, "model '" + model_title_ + "' is shutting down"};
    if (static_cast<int64_t>(queue_.size()) >= options_.max_queue_size) {
      return ResourceExhausted("the queue of model '" + model_title_ + "' is full (max_queue_size " +
                               std::to_string(options_.max_queue_size) + " requests waiting); retry later");
    }
    queue_.push_back({std::move(item), now});
    queued_images_ += images;
    batch_full = queued_images_ >= options_.max_batch_size;
  }
  if (metrics_ != nullptr) metrics_->AddPending(1);
  // A full batch may be waited for by any instance; otherwise one instance is enough to start the delay clock.
  if (batch_full) {
    wake_.notify_all();
  } else {
    wake_.notify_one();
  }
  return OkStatus();
}

void Batcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  instances_.Stop();
}

void Batcher::RunInstance() {
  UseComputeThreadPolicy();
  engine::SetComputeThreadsForThisThread(options_.compute_threads);
  Taken taken;
  while (Take(taken)) {
    for (auto& [queued, status] : taken.dropped) Answer(queued.item.done, status);
    if (!taken.batch.empty()) Execute(taken.batch);
    // Cleared, not replaced: the vectors keep their capacity for the next batch.
    taken.batch.clear();
    taken.dropped.clear();
  }
}

bool Batcher::Take(Taken& taken) {
  std::unique_lock lock(mutex_);
  wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
  if (queue_.empty()) return false;
  WaitForCompany(lock);
  // Another instance may have taken everything while this one waited.
  if (queue_.empty()) return true;
  const size_t before = queue_.size();
  TakeBatch(taken);
  const auto left = static_cast<int64_t>(before - queue_.size());
  const bool more = !queue_.empty();
  lock.unlock();
  if (metrics_ != nullptr) metrics_->AddPending(-left);
  // Items beyond this batch are old enough to run now; let another instance have them.
  if (more) wake_.notify_one();
  return true;
}

void Batcher::WaitForCompany(std::unique_lock<std::mutex>& lock) {
  const auto delay = std::chrono::microseconds(options_.max_queue_delay_us);
  while (!stopping_ && !queue_.empty() && queued_images_ < options_.max_batch_size) {
    const BatchClock::time_point run_at = queue_.front().enqueued + delay;
    if (BatchClock::now() >= run_at) return;
    wake_.wait_until(lock, run_at);
  }
}

void Batcher::TakeBatch(Taken& taken) {
  const BatchClock::time_point now = BatchClock::now();
  const int64_t target = SizeAtMost(std::min(queued_images_, options_.max_batch_size));
  std::vector<Queued>& batch = taken.batch;
  int64_t images = 0;
  while (!queue_.empty()) {
    Queued& front = queue_.front();
    const int64_t count = front.item.images.dim(0);
    if (Status why = Expired(front, now); !why.ok()) {
      taken.dropped.emplace_back(std::move(front), std::move(why));
    } else if (batch.empty() || images + count <= target) {
      images += count;
      batch.push_back(std::move(front));
    } else {
      break;
    }
    queued_images_ -= count;
    queue_.pop_front();
  }
}

Status Batcher::Expired(const Queued& queued, BatchClock::time_point now) const {
  const bool timed_out = queued.item.deadline <= now;
  if (!timed_out && !(queued.item.cancelled && queued.item.cancelled())) return OkStatus();
  const std::string waited = std::to_string(static_cast<int64_t>(MicrosecondsSince(queued.enqueued, now)));
  if (timed_out) {
    return {StatusCode::kDeadlineExceeded, "the request's deadline passed after " + waited +
                                               " us in the queue of model '" + model_title_ + "'; it was not computed"};
  }
  return {StatusCode::kCancelled, "the request was cancelled after " + waited + " us in the queue of model '" +
                                      model_title_ + "'; it was not computed"};
}

void Batcher::Execute(std::vector<Queued>& batch) {
  const BatchClock::time_point start = BatchClock::now();
  int64_t images = 0;
  for (const Queued& queued : batch) {
    images += queued.item.images.dim(0);
    if (metrics_ != nullptr) metrics_->ObserveQueue(MicrosecondsSince(queued.enqueued, start));
  }
  // A lone item of a compiled size runs from its own buffer; otherwise the items are copied once into one batch
  // tensor, padded with zero images up to a compiled size.
  const int64_t rows = images > options_.max_batch_size ? images : SizeAtLeast(images);
  const engine::Tensor input =
      batch.size() == 1 && rows == images ? batch.front().item.images : Concatenate(batch, rows);
  StatusOr<std::vector<engine::Tensor>> outputs = RunBatch(input, rows);
  if (metrics_ != nullptr) metrics_->ObserveExecution(images, MicrosecondsSince(start, BatchClock::now()));
  if (!outputs.ok()) {
    for (Queued& queued : batch) Answer(queued.item.done, outputs.status());
    return;
  }
  int64_t first = 0;
  for (Queued& queued : batch) {
    const int64_t count = queued.item.images.dim(0);
    Answer(queued.item.done, BatchRows(*outputs, first, count));
    first += count;
  }
}

StatusOr<std::vector<engine::Tensor>> Batcher::RunBatch(const engine::Tensor& input, int64_t rows) {
  StatusOr<std::vector<engine::Tensor>> outputs = Internal("not run");
  try {
    outputs = run_(input);
  } catch (const std::exception& error) {
    outputs = Internal(std::string("inference failed: ") + error.what());
  }
  if (!outputs.ok()) return outputs.status().WithContext("model '" + model_title_ + "'");
  for (const engine::Tensor& output : *outputs) {
    if (output.rank() < 1 || output.dim(0) != rows) {
      return Internal("model '" + model_title_ + "' returned an output of shape " +
                      engine::ShapeToString(output.shape()) + " for a batch of " + std::to_string(rows));
    }
  }
  return outputs;
}

int64_t Batcher::SizeAtMost(int64_t images) const {
  const auto above = std::upper_bound(batch_sizes_.begin(), batch_sizes_.end(), images);
  return above == batch_sizes_.begin() ? batch_sizes_.front() : *std::prev(above);
}

int64_t Batcher::SizeAtLeast(int64_t images) const {
  const auto found = std::lower_bound(batch_sizes_.begin(), batch_sizes_.end(), images);
  return found == batch_sizes_.end() ? images : *found;
}

engine::Tensor Batcher::Concatenate(const std::vector<Queued>& batch, int64_t rows) const {
  engine::Shape shape = item_shape_;
  shape.insert(shape.begin(), rows);
  engine::Tensor input(engine::DataType::kFloat32, shape);
  auto* dst = static_cast<std::byte*>(input.raw_data());
  for (const Queued& queued : batch) {
    std::memcpy(dst, queued.item.images.raw_data(), queued.item.images.byte_size());
    dst += queued.item.images.byte_size();
  }
  return input;
}

}  // namespace fovea::server
