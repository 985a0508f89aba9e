#pragma once
// ThreadPool: a fixed set of named threads running submitted jobs in submission order. The server's worker pool
// (decoding and converting requests off gRPC's callback threads, which must not block) and each model's batcher (one
// long-running job per model instance) are both one of these.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fovea::common {

class ThreadPool {
 public:
  // Starts `threads` threads (at least one) named `name` (as `top` and /proc show it; at most 15 characters); each
  // runs `on_start` first (e.g. to size its compute team).
  ThreadPool(const std::string& name, int threads, const std::function<void()>& on_start = {});
  // Stop()s the pool.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Queues `job`; false when the pool is stopping (the job is not run).
  bool Submit(std::function<void()> job);

  // Refuses new jobs, runs every queued one, then joins the threads. Idempotent. A job that runs until told to stop
  // (a batcher's instance loop) must be told before this is called.
  void Stop();

 private:
  void RunJobs();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace fovea::common
