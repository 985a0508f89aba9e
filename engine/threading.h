#pragma once
// Compute threads. oneDNN here runs on OpenMP: each thread that calls Session::Run gets an OpenMP team whose size
// is that thread's own setting. A server with several inference workers gives each a share of the cores, so that
// workers × team size does not exceed them (oversubscribed OpenMP teams lose badly: see bench/RESULTS.md).

namespace fovea::engine {

// Sets how many threads oneDNN may use for primitives executed from the calling thread (at least 1).
void SetComputeThreadsForThisThread(int threads);

// The team size oneDNN would use for primitives executed from the calling thread.
int ComputeThreadsForThisThread();

// Sets the calling thread's team size for its lifetime and restores the previous one, e.g. to compile plans ahead of
// time for worker threads that will run them with a different team size.
class ScopedComputeThreads {
 public:
  explicit ScopedComputeThreads(int threads);
  ~ScopedComputeThreads();
  ScopedComputeThreads(const ScopedComputeThreads&) = delete;
  ScopedComputeThreads& operator=(const ScopedComputeThreads&) = delete;

 private:
  int previous_;
};

}  // namespace fovea::engine
