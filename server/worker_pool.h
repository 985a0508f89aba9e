#pragma once
// WorkerPool: a fixed set of threads that run inference off gRPC's callback threads, which must not block.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace fovea::server {

class WorkerPool {
 public:
  // Starts `threads` workers (at least one); each runs `on_start` first (e.g. to size its compute team).
  explicit WorkerPool(int threads, const std::function<void()>& on_start = {});
  // Stop()s the pool.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`; false when the pool is stopping (the job is not run).
  bool Submit(std::function<void()> job);

  // Refuses new jobs, runs every queued one, then joins the workers. Idempotent.
  void Stop();

 private:
  void RunWorker();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace fovea::server
