#include "engine/threading.h"

#include <omp.h>

#include <algorithm>

namespace fovea::engine {

void SetComputeThreadsForThisThread(int threads) { omp_set_num_threads(std::max(threads, 1)); }

int ComputeThreadsForThisThread() { return omp_get_max_threads(); }

ScopedComputeThreads::ScopedComputeThreads(int threads) : previous_(ComputeThreadsForThisThread()) {
  SetComputeThreadsForThisThread(threads);
}

ScopedComputeThreads::~ScopedComputeThreads() { SetComputeThreadsForThisThread(previous_); }

}  // namespace fovea::engine
