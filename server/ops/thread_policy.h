#pragma once
// Linux scheduling policy of the server's threads. On a loaded server every request that arrives wakes a gRPC thread,
// and under the normal policy (SCHED_OTHER) a woken thread preempts the engine thread in the middle of a batch: with a
// small model that is several switches per request, each evicting the batch's working set from the core's caches.
// Under SCHED_BATCH a woken thread does not preempt; it runs when the engine thread blocks (between batches, which is
// when the batcher needs the new requests) or when its time slice ends. So the serving threads (gRPC's, the REST
// server's, the worker pool's) run SCHED_BATCH and the compute threads (batcher instances and their oneDNN teams)
// SCHED_OTHER. An idle server is unaffected: nothing is running to be preempted. Measured in bench/RESULTS.md
// ("Dynamic batching", streaming).

#include <string>

#include "common/status.h"

namespace fovea::server {

enum class ServingThreadPolicy { kBatch, kNormal };

// "batch" or "normal".
StatusOr<ServingThreadPolicy> ParseServingThreadPolicy(const std::string& text);
const char* ServingThreadPolicyName(ServingThreadPolicy policy);

// Gives the calling thread `policy`. Threads inherit their creator's policy, so calling this on the main thread before
// any other thread exists sets it for every thread the server starts (gRPC's included).
Status ApplyServingThreadPolicy(ServingThreadPolicy policy);

// Puts the calling thread (a compute thread) back on the normal policy, whatever it inherited.
void UseComputeThreadPolicy();

}  // namespace fovea::server
