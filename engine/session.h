#pragma once
// Session: runs a Model on any batch size. Plans are compiled on first use for each set of input shapes and compute
// team size (engine/threading.h) and cached. The team size is part of the key because oneDNN fixes a primitive's
// thread count when it is created: a plan compiled on a thread with a team of 2 runs teams of 2 even from a thread
// that was given 1, and two such single-thread workers then oversubscribe two cores.
//
// Threading: Run() may be called from many threads at once. Plans are immutable and shared; each execution takes
// its own buffers and scratchpad (oneDNN scratchpad_mode::user), see engine/plan.h. Two threads asking for the same
// new shape compile it once; the others wait for that compilation, not for unrelated shapes.

#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/context_pool.h"
#include "engine/model.h"
#include "engine/plan.h"

namespace fovea::engine {

// How many compiled plans a Session keeps. A model with free height and width (fully convolutional, segmentation) gets
// a plan per input size it sees; the least recently used ones are dropped beyond this bound, so a stream of odd sizes
// cannot grow memory without limit. A dropped plan still in use lives until its last run ends.
inline constexpr size_t kDefaultMaxCachedPlans = 32;

class Session {
 public:
  // `idle_context_bytes` bounds the execution contexts its plans keep between runs (engine/context_pool.h).
  static StatusOr<std::unique_ptr<Session>> Create(std::shared_ptr<const Model> model,
                                                   size_t max_cached_plans = kDefaultMaxCachedPlans,
                                                   size_t idle_context_bytes = kDefaultIdleContextBytes);

  const Model& model() const { return *model_; }

  // Runs the model on plain tensors given in graph input order; returns outputs in graph output order.
  StatusOr<std::vector<Tensor>> Run(std::span<const Tensor> inputs) const;

  // Compiles (or finds) the plan for these input shapes and the calling thread's team size without running it, e.g.
  // to warm up a batch size.
  StatusOr<std::shared_ptr<const Plan>> PlanFor(std::span<const Shape> input_shapes) const;

  size_t cached_plans() const;
  // The idle execution contexts its plans keep between runs.
  const ContextPool& contexts() const { return *contexts_; }
  // Reordered constants the plans share (one per weight and layout).
  size_t shared_constants() const { return constants_.size(); }

 private:
  Session(std::shared_ptr<const Model> model, size_t max_cached_plans, size_t idle_context_bytes);
  // Drops least recently used compiled plans until at most max_cached_plans_ remain. Caller holds mutex_.
  void EvictLeastRecentlyUsed() const;

  using PlanFuture = std::shared_future<StatusOr<std::shared_ptr<const Plan>>>;
  struct PlanKey {
    int compute_threads;
    std::vector<Shape> input_shapes;
    auto operator<=>(const PlanKey&) const = default;
  };
  std::shared_ptr<const Model> model_;
  dnnl::engine engine_;
  // The model's weights in the layouts its plans chose, one copy per layout for all batch sizes.
  mutable SharedConstants constants_;
  // Idle execution contexts of all its plans, bounded in bytes (engine/context_pool.h).
  std::shared_ptr<ContextPool> contexts_;
  mutable std::mutex mutex_;
  struct CachedPlan {
    PlanFuture future;
    uint64_t last_used = 0;  // value of use_clock_ at the last lookup
  };
  size_t max_cached_plans_;
  mutable uint64_t use_clock_ = 0;
  mutable std::map<PlanKey, CachedPlan> plans_;
};

}  // namespace fovea::engine
