#pragma once
// ContextPool: the execution contexts (arena, scratchpad, stream) the plans of one session keep between runs, bounded
// in bytes.
//
// Reusing a context saves allocating and first-touching its arena on every run. But keeping one per plan and per
// concurrent run, without a bound, holds memory nobody uses: a session caches up to 32 plans (one per input shape),
// and a dense map over a 1-Mpixel tile needs an arena of about 265 MB, so a server mapping slide tiles of a few shapes
// kept 1.3 GB idle. Here idle contexts stay within `limit` bytes: the least recently kept are freed first, also
// before a new arena is allocated, so idle plus new stays within the limit whenever the idle ones can make room. The
// one exception is a single context larger than the limit, kept alone until another is allocated (Keep).
//
// Threading: every member may be called from many threads at once. Contexts are freed outside the lock.

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>

namespace fovea::engine {

// What a plan allocates for one run; the pool only frees it (engine/plan.cc defines the plan's own).
struct PooledContext {
  virtual ~PooledContext() = default;
};

// Idle contexts a session keeps by default. Since idle ones are freed to make room before an allocation, a session
// running one plan at a time holds at most about this much in contexts: the several batch sizes of a ResNet-50, or one
// dense pass over a 1-Mpixel tile (about 265 MB for the bundled int8 model), then freed when a tile of another shape
// comes. Not keeping contexts at all costs the page faults of a fresh arena on every run: 5-10% of a dense pass
// (bench/RESULTS.md, "Whole-slide maps").
inline constexpr size_t kDefaultIdleContextBytes = size_t{384} << 20;

class ContextPool {
 public:
  explicit ContextPool(size_t limit_bytes = kDefaultIdleContextBytes) : limit_(limit_bytes) {}
  ~ContextPool();
  ContextPool(const ContextPool&) = delete;
  ContextPool& operator=(const ContextPool&) = delete;

  // An idle context `owner` kept, most recent first, or null.
  std::unique_ptr<PooledContext> Take(const void* owner);
  // Frees the least recently kept contexts until `bytes` more fit beside the rest within the limit (or none is left).
  // Called before allocating a context of `bytes`.
  void MakeRoom(size_t bytes);
  // Keeps `context` (`bytes` large) for `owner`'s next run, freeing older ones to make room. One larger than the limit
  // is kept alone: a steady run of one large shape (a ResNet-50 batch of 64 needs 460 MB) then reuses it instead of
  // faulting in a fresh arena each time, and the next allocation of any other context frees it (MakeRoom).
  void Keep(const void* owner, std::unique_ptr<PooledContext> context, size_t bytes);
  // Frees every context `owner` kept (it is going away).
  void Forget(const void* owner);

  size_t limit() const { return limit_; }
  size_t idle_bytes() const;
  size_t idle_contexts() const;

 private:
  struct Idle {
    const void* owner;
    size_t bytes;
    std::unique_ptr<PooledContext> context;
  };
  // Moves the oldest idle contexts into `freed` until `bytes` more fit. Caller holds mutex_.
  void EvictFor(size_t bytes, std::list<Idle>& freed);

  const size_t limit_;
  mutable std::mutex mutex_;
  std::list<Idle> idle_;  // least recently kept first
  size_t idle_bytes_ = 0;
};

}  // namespace fovea::engine
