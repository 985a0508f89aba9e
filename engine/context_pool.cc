#include "engine/context_pool.h"

namespace fovea::engine {

ContextPool::~ContextPool() = default;

std::unique_ptr<PooledContext> ContextPool::Take(const void* owner) {
  std::lock_guard lock(mutex_);
  for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
    if (it->owner != owner) continue;
    std::unique_ptr<PooledContext> context = std::move(it->context);
    idle_bytes_ -= it->bytes;
    idle_.erase(std::next(it).base());
    return context;
  }
  return nullptr;
}

void ContextPool::EvictFor(size_t bytes, std::list<Idle>& freed) {
  while (!idle_.empty() && idle_bytes_ + bytes > limit_) {
    idle_bytes_ -= idle_.front().bytes;
    freed.splice(freed.end(), idle_, idle_.begin());
  }
}

void ContextPool::MakeRoom(size_t bytes) {
  std::list<Idle> freed;
  std::lock_guard lock(mutex_);
  EvictFor(bytes, freed);
}

void ContextPool::Keep(const void* owner, std::unique_ptr<PooledContext> context, size_t bytes) {
  std::list<Idle> freed;  // declared before the lock: freed after it is released
  std::lock_guard lock(mutex_);
  EvictFor(bytes, freed);  // a context larger than the limit frees every other one, and is kept alone
  idle_.push_back({owner, bytes, std::move(context)});
  idle_bytes_ += bytes;
}

void ContextPool::Forget(const void* owner) {
  std::list<Idle> freed;
  std::lock_guard lock(mutex_);
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto next = std::next(it);
    if (it->owner == owner) {
      idle_bytes_ -= it->bytes;
      freed.splice(freed.end(), idle_, it);
    }
    it = next;
  }
}

size_t ContextPool::idle_bytes() const {
  std::lock_guard lock(mutex_);
  return idle_bytes_;
}

size_t ContextPool::idle_contexts() const {
  std::lock_guard lock(mutex_);
  return idle_.size();
}

}  // namespace fovea::engine
