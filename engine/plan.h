#pragma once
// Plan: the compiled form of a graph for one set of input shapes. It owns the oneDNN primitives and the weights in the
// layouts those primitives chose; running it needs only a per-execution context (buffers, scratchpad, stream).
//
// Threading: a Plan is immutable after compilation and Run() may be called from many threads at once. Every
// primitive is created with scratchpad_mode::user, and each execution takes its own ExecutionContext (arena,
// scratchpad, stream), so no two concurrent executions share writable memory. Contexts are reused from a ContextPool
// (engine/context_pool.h) that the plans of one session share, bounded in bytes.

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "engine/context_pool.h"
#include "engine/graph.h"
#include "engine/model.h"
#include "engine/plan_builder.h"

namespace fovea::engine {

class Plan {
 public:
  // Compiles `graph` for inputs of exactly `input_shapes` (in graph input order).
  // `precision` is the float arithmetic of convolutions and inner products (engine/model.h). `shared` (optional,
  // borrowed) holds reordered constants shared with the other plans of the same model; `contexts` (optional) the idle
  // execution contexts they share (without one the plan keeps its own pool of the default size).
  static StatusOr<std::unique_ptr<Plan>> Compile(const Graph& graph, std::span<const Shape> input_shapes,
                                                 const dnnl::engine& engine, Precision precision = Precision::kFp32,
                                                 SharedConstants* shared = nullptr,
                                                 std::shared_ptr<ContextPool> contexts = nullptr);
  ~Plan();

  const std::vector<Shape>& output_shapes() const { return output_shapes_; }
  // float32 for computed outputs; a constant output (e.g. a Shape result) keeps its own dtype.
  const std::vector<DataType>& output_dtypes() const { return output_dtypes_; }
  size_t num_steps() const { return steps_.size(); }
  // Bytes of intermediate values one execution needs, after buffers are reused across layers.
  size_t activation_bytes() const { return arena_bytes_; }
  // Bytes of the largest oneDNN scratchpad among the steps (e.g. Winograd's transformed tiles).
  size_t scratchpad_bytes() const { return scratchpad_bytes_; }
  // All the memory one execution needs besides inputs, outputs and weights.
  size_t arena_bytes() const { return arena_bytes_ + scratchpad_bytes_; }

  // Runs the plan. `outputs` must hold tensors of output_shapes() and output_dtypes() (allocated by the caller).
  // Thread-safe.
  Status Run(std::span<const Tensor> inputs, std::span<Tensor> outputs) const;

 private:
  struct ExecutionContext;
  Plan() = default;
  void AssignStorageOffsets(const std::vector<size_t>& storage_sizes);
  std::unique_ptr<ExecutionContext> NewContext() const;
  std::unique_ptr<ExecutionContext> AcquireContext() const;
  void ReleaseContext(std::unique_ptr<ExecutionContext> context) const;
  size_t context_bytes() const;

  dnnl::engine engine_;
  std::vector<PlanStep> steps_;
  std::vector<PlanBuffer> buffers_;
  std::vector<size_t> storage_offsets_;  // byte offset of each storage in the arena
  size_t arena_bytes_ = 0;
  size_t scratchpad_bytes_ = 0;
  std::vector<int> input_buffers_;   // buffer id bound to each graph input
  std::vector<int> output_buffers_;  // buffer id bound to each graph output, or -1 for a constant output
  std::vector<Tensor> constant_outputs_;
  std::vector<Shape> output_shapes_;
  std::vector<DataType> output_dtypes_;

  std::shared_ptr<ContextPool> contexts_;
};

}  // namespace fovea::engine
