#pragma once
// Running oneDNN primitives now, on host tensors, outside a plan: what an op's Backward does (Grad-CAM differentiates
// one request's forward values; the tests check it against finite differences). Plain layouts throughout.

#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/tensor.h"

namespace fovea::engine::ops {

// A CPU engine and an in-order stream of the calling thread. Creating one is cheap next to the primitives it runs;
// nothing is shared between threads but oneDNN's own primitive cache.
class Eager {
 public:
  Eager() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

  const dnnl::engine& engine() const { return engine_; }
  // `tensor`'s bytes as memory of layout `desc` (plain f32 of its shape when not given); no copy.
  dnnl::memory Memory(const Tensor& tensor) const;
  dnnl::memory Memory(const Tensor& tensor, const dnnl::memory::desc& desc) const;
  // Executes `primitive` and waits for it.
  void Run(const dnnl::primitive& primitive, const std::unordered_map<int, dnnl::memory>& args);

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
};

}  // namespace fovea::engine::ops
