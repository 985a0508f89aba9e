#pragma once
// PlanBuilder: what ops see while a plan is being compiled. It hands out runtime buffers, inserts reorders between
// layouts, reorders constant weights once into the layout a primitive chose, and records primitives in order.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "common/status.h"
#include "engine/tensor.h"

namespace fovea::engine {

// What the builder knows of one value: its logical shape and either its constant or its runtime buffer and layout.
struct PlanValue {
  DataType dtype = DataType::kFloat32;
  Shape shape;
  std::optional<Tensor> constant;  // set when the value is known at plan time (weights, shape arithmetic)
  int id = -1;                     // runtime buffer id, when not constant
  dnnl::memory::desc desc;         // runtime layout (plain or blocked), when not constant

  bool present() const { return constant.has_value() || id >= 0; }
  bool is_constant() const { return constant.has_value(); }

  static PlanValue Constant(Tensor t);
};

// Where a primitive argument comes from: a runtime buffer, or a memory the plan owns (weights).
struct PlanArg {
  int dnnl_arg = 0;
  int value_id = -1;
  dnnl::memory constant;
};

// Fovea's own loops for an op oneDNN 2.6 has no primitive for (Erf, Floor, runtime Where…): reads `inputs` and fills
// the preallocated `outputs`, all plain row-major tensors over the execution's buffers. It must be safe to call from
// several executions at once and own what it uses (capture parameters by value: a plan may outlive its graph).
using HostKernel = std::function<Status(std::span<const Tensor> inputs, std::span<Tensor> outputs)>;

// One step in execution order: a oneDNN primitive with its arguments, or a host kernel. A host step's args bind its
// inputs (DNNL_ARG_MULTIPLE_SRC + i) and outputs (DNNL_ARG_MULTIPLE_DST + i) the same way, constants included.
struct PlanStep {
  dnnl::primitive primitive;
  std::vector<PlanArg> args;
  HostKernel host;                       // set for a host step (then `primitive` is empty)
  std::vector<Shape> host_input_shapes;  // logical shapes and dtypes of the tensors the kernel sees
  std::vector<DataType> host_input_dtypes;
  std::vector<Shape> host_output_shapes;
  std::vector<DataType> host_output_dtypes;
  std::vector<Tensor> host_constants;  // keeps the constant inputs' bytes alive as long as the plan
};

// A runtime buffer: its layout and which storage it lives in (aliases share the storage of another buffer).
struct PlanBuffer {
  dnnl::memory::desc desc;
  int storage = -1;       // index into storage sizes; an alias points at its root's storage
  bool external = false;  // bound to a caller's tensor at run time (graph inputs and outputs)
};

// Plain row-major memory descriptor for `shape` (f32 unless told). Runtime values are float32 (bf16 inside a bf16
// plan) or, in quantized graphs, uint8/int8; int64 values (shape arithmetic) exist only as plan-time constants, since
// oneDNN 2.6 has no 64-bit integer type.
dnnl::memory::desc PlainDesc(const Shape& shape, dnnl::memory::data_type type = dnnl::memory::data_type::f32);
// The oneDNN element type holding `type`: f32, or u8/s8 for quantized values (int64 is never a oneDNN operand).
dnnl::memory::data_type DnnlDataType(DataType type);
// The plain layout of a runtime value of `type`: PlainDesc for float and 8-bit values. An int64 value (a host step's
// result, such as ArgMax's indices) is raw bytes, since oneDNN 2.6 has no 64-bit integer type: its buffer has the right
// size and the reorder to a graph output copies it whole. Only graph outputs may read runtime int64 values.
dnnl::memory::desc ValueDesc(const Shape& shape, DataType type);
dnnl::memory::dims ToDims(const Shape& shape);
// `desc` with the same dims and layout but elements of `type` (e.g. the f32 twin of a bf16 blocked layout).
dnnl::memory::desc WithDataType(const dnnl::memory::desc& desc, dnnl::memory::data_type type);

// Constants reordered into the layouts primitives chose, shared by the plans of one Session. Plans for different batch
// sizes mostly ask for the same weights in the same layout, and one copy then serves them all: a batching server
// alternating between its batch sizes keeps one copy of the weights in the caches instead of one per batch size.
// Thread-safe (plans may compile concurrently).
class SharedConstants {
 public:
  // Only the buffers of `model_constants` are shared: they live as long as the model, so an address names one content.
  // A tensor folded at plan time is new for every compilation, and its address may be reused once it is freed.
  explicit SharedConstants(const std::map<std::string, Tensor>& model_constants);

  bool Shares(const Tensor& tensor) const { return shareable_.count(tensor.raw_data()) != 0; }
  // The memory holding `tensor` (which Shares()) in layout `desc`; `make` creates it on the first request.
  dnnl::memory Get(const Tensor& tensor, const dnnl::memory::desc& desc, const std::function<dnnl::memory()>& make);
  size_t size() const;

 private:
  struct Entry {
    const void* data;
    DataType dtype;
    dnnl::memory::desc desc;
    dnnl::memory memory;
  };
  std::set<const void*> shareable_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
};

class PlanBuilder {
 public:
  // `compute_type` is what convolutions and inner products read their float activations and weights as: f32, or
  // bf16 (they still accumulate in f32; values are converted at the edges by the reorders Arg() inserts).
  // `shared` (optional, borrowed) holds constant memories this plan may share with the Session's other plans.
  explicit PlanBuilder(dnnl::engine engine, dnnl::memory::data_type compute_type = dnnl::memory::data_type::f32,
                       SharedConstants* shared = nullptr);

  const dnnl::engine& engine() const { return engine_; }
  dnnl::memory::data_type compute_type() const { return compute_type_; }
  // Primitive attributes every op should start from (user-managed scratchpad, so executions can run concurrently).
  dnnl::primitive_attr DefaultAttr() const;

  // What the readers of the node being emitted want its first output to be: the layout they all read it in, if
  // they agree on one (Op::PreferredFirstInputLayout), for an output of `shape`. The plan compiler sets the query per
  // node; ops that can write any layout ask it.
  using LayoutQuery = std::function<std::optional<dnnl::memory::desc>(const Shape& shape)>;
  void set_output_layout_query(LayoutQuery query) { output_layout_query_ = std::move(query); }
  std::optional<dnnl::memory::desc> LayoutReadersWant(const Shape& shape) const {
    return output_layout_query_ ? output_layout_query_(shape) : std::nullopt;
  }

  // A fresh runtime buffer with the given logical shape and layout.
  PlanValue NewValue(const Shape& shape, const dnnl::memory::desc& desc);
  // A caller-provided plain buffer (graph input or output): float32, uint8/int8 for a quantized graph output, or int64
  // for a graph output computed by a host step.
  PlanValue NewExternalValue(const Shape& shape, DataType dtype = DataType::kFloat32);
  // The same bytes as `value` seen with another shape; `value` must have a plain layout (see Plain()).
  PlanValue Alias(const PlanValue& value, const Shape& shape);
  // The same bytes as runtime `value` (plain) read through another layout `desc` of logical `shape`, e.g. a transposed
  // view with swapped strides. The caller guarantees `desc` addresses only bytes inside `value`'s buffer.
  PlanValue View(const PlanValue& value, const Shape& shape, const dnnl::memory::desc& desc);

  // `value` as a runtime buffer in layout `desc`: itself when it already matches, otherwise a reorder into a new
  // buffer. Constants become runtime values with a plan-owned memory copied in at plan time.
  PlanValue Reordered(const PlanValue& value, const dnnl::memory::desc& desc);
  // A new buffer holding a copy of `value` in layout `desc`, even when the layout already matches: for primitives
  // that write into their operand (the sum post-op) while other consumers still need the original.
  PlanValue Copied(const PlanValue& value, const dnnl::memory::desc& desc);
  // `value` in a plain row-major layout: float32 for float values (bf16 converted), uint8/int8 for quantized ones.
  PlanValue Plain(const PlanValue& value);

  // An argument binding `value` in layout `desc`: constants are reordered once now and owned by the plan; runtime
  // values are reordered by an added step when their layout differs.
  PlanArg Arg(int dnnl_arg, const PlanValue& value, const dnnl::memory::desc& desc);
  PlanArg Arg(int dnnl_arg, const PlanValue& value) { return Arg(dnnl_arg, value, value.desc); }
  PlanArg ConstantArg(int dnnl_arg, const dnnl::memory& memory);

  // Appends a primitive; `scratchpad` is its primitive descriptor's scratchpad_desc().
  void AddStep(dnnl::primitive primitive, std::vector<PlanArg> args, const dnnl::memory::desc& scratchpad);
  // Appends a host step running `kernel` on `inputs` (made plain first; constants are passed as they are) and returns
  // new plain outputs of the given shapes and dtypes (float32, uint8/int8, or int64, which only graph outputs may
  // read). For ops without a oneDNN primitive only:
  // it runs single-threaded on plain layouts.
  std::vector<PlanValue> AddHostStep(HostKernel kernel, std::span<const PlanValue> inputs,
                                     const std::vector<Shape>& output_shapes,
                                     const std::vector<DataType>& output_dtypes);

  // A memory holding `tensor` converted to layout `desc` (done once, here, or found among the shared constants).
  dnnl::memory ConstantMemory(const Tensor& tensor, const dnnl::memory::desc& desc);

  std::vector<PlanStep> TakeSteps() { return std::move(steps_); }
  const std::vector<PlanBuffer>& buffers() const { return buffers_; }
  const std::vector<size_t>& storage_sizes() const { return storage_sizes_; }
  size_t scratchpad_bytes() const { return scratchpad_bytes_; }

 private:
  int AddBuffer(const dnnl::memory::desc& desc, bool external);
  // A new memory holding `tensor` converted to layout `desc`.
  dnnl::memory ReorderedConstant(const Tensor& tensor, const dnnl::memory::desc& desc);

  dnnl::engine engine_;
  dnnl::memory::data_type compute_type_;
  SharedConstants* shared_;
  dnnl::stream stream_;  // for plan-time reorders of constants
  std::vector<PlanStep> steps_;
  std::vector<PlanBuffer> buffers_;
  std::vector<size_t> storage_sizes_;
  size_t scratchpad_bytes_ = 0;
  LayoutQuery output_layout_query_;
};

}  // namespace fovea::engine
