#include "engine/plan.h"

#include "engine/cpu_features.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

namespace fovea::engine {
namespace {

constexpr size_t kArenaAlignment = 64;

size_t AlignUp(size_t n) { return (n + kArenaAlignment - 1) / kArenaAlignment * kArenaAlignment; }

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

Status CheckInputShape(const ValueInfo& info, const Shape& shape) {
  bool matches = info.shape.size() == shape.size();
  for (size_t i = 0; matches && i < shape.size(); ++i) {
    // The leading dimension is the batch: any size is accepted, as every CNN serving runtime does.
    matches = i == 0 || info.shape[i] < 0 || info.shape[i] == shape[i];
  }
  if (!matches) {
    return InvalidArgument("input '" + info.name + "' has shape " + ShapeToString(shape) + " but the model expects " +
                           ShapeToString(info.shape) + " (-1 = any)");
  }
  if (info.dtype != DataType::kFloat32) {
    return Unimplemented("input '" + info.name + "' is " + DataTypeName(info.dtype) +
                         "; runtime inputs must be float32");
  }
  for (int64_t d : shape) {
    if (d <= 0) return InvalidArgument("input '" + info.name + "' has an empty dimension: " + ShapeToString(shape));
  }
  return OkStatus();
}

// Evaluates a node whose inputs are all known at plan time with its reference kernel.
StatusOr<std::vector<PlanValue>> FoldNode(const Node& node, std::span<const PlanValue> args) {
  std::vector<Tensor> tensors;
  for (const auto& a : args) tensors.push_back(a.present() ? *a.constant : Tensor());
  FOVEA_ASSIGN_OR_RETURN(auto outs, node.op->Reference(tensors));
  std::vector<PlanValue> values;
  for (auto& t : outs) values.push_back(PlanValue::Constant(std::move(t)));
  return values;
}

StatusOr<std::vector<PlanValue>> EmitNode(const Node& node, PlanBuilder& builder, std::span<const PlanValue> args) {
  // Runtime int64 values (host-step results such as ArgMax's indices) are raw bytes no op can read (ValueDesc).
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].present() && !args[i].is_constant() && args[i].dtype == DataType::kInt64) {
      return Unimplemented("input " + std::to_string(i) + " ('" + node.inputs[i] +
                           "') is an int64 value computed at run time; only graph outputs may read those");
    }
  }
  const bool all_constant =
      std::all_of(args.begin(), args.end(), [](const PlanValue& v) { return !v.present() || v.is_constant(); });
  if (all_constant && node.op->FoldsConstants()) return FoldNode(node, args);
  try {
    return node.op->Emit(builder, args);
  } catch (const dnnl::error& e) {
    return Unimplemented(std::string("oneDNN cannot run this configuration: ") + e.what());
  }
}

// Where a value is read: by which node, as which input.
struct Use {
  const Node* node;
  size_t input;
};

// The layout every reader of a value wants it in (Op::PreferredFirstInputLayout), if they agree; nullopt when any
// reader has no preference, reads it as another input, or is a graph output (those leave plain anyway).
std::optional<dnnl::memory::desc> LayoutReadersAgreeOn(const std::vector<Use>& uses, bool graph_output,
                                                       const Shape& shape,
                                                       const std::map<std::string, PlanValue>& values,
                                                       PlanBuilder& builder) {
  if (graph_output) return std::nullopt;
  std::optional<dnnl::memory::desc> agreed;
  for (const Use& use : uses) {
    if (use.input != 0) return std::nullopt;
    std::vector<PlanValue> args;
    for (const auto& in : use.node->inputs) {
      const auto it = values.find(in);
      args.push_back(it == values.end() ? PlanValue() : it->second);
    }
    args[0] = PlanValue();
    args[0].shape = shape;
    const auto wanted = use.node->op->PreferredFirstInputLayout(builder, args);
    if (!wanted || (agreed && *agreed != *wanted)) return std::nullopt;
    agreed = wanted;
  }
  return agreed;
}

// Runs a host step (PlanBuilder::AddHostStep) on tensors wrapping the execution's memories.
Status RunHostStep(const PlanStep& step, const std::unordered_map<int, dnnl::memory>& args) {
  const auto wrap = [&](int arg, DataType dtype, const Shape& shape) {
    const auto it = args.find(arg);
    if (it == args.end() || !it->second) return Tensor();
    return Tensor::Wrap(dtype, shape, it->second.get_data_handle(), nullptr);
  };
  std::vector<Tensor> inputs, outputs;
  for (size_t i = 0; i < step.host_input_shapes.size(); ++i) {
    inputs.push_back(
        wrap(DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i), step.host_input_dtypes[i], step.host_input_shapes[i]));
  }
  for (size_t i = 0; i < step.host_output_shapes.size(); ++i) {
    outputs.push_back(
        wrap(DNNL_ARG_MULTIPLE_DST + static_cast<int>(i), step.host_output_dtypes[i], step.host_output_shapes[i]));
  }
  return step.host(inputs, outputs);
}

}  // namespace

struct Plan::ExecutionContext : PooledContext {
  std::unique_ptr<void, FreeDeleter> arena;
  dnnl::stream stream;
  std::vector<dnnl::memory> memories;  // one per buffer; externals get their handle per run
  std::vector<std::unordered_map<int, dnnl::memory>> step_args;
};

Plan::~Plan() {
  if (contexts_) contexts_->Forget(this);
}

StatusOr<std::unique_ptr<Plan>> Plan::Compile(const Graph& graph, std::span<const Shape> input_shapes,
                                              const dnnl::engine& engine, Precision precision, SharedConstants* shared,
                                              std::shared_ptr<ContextPool> contexts) {
  if (input_shapes.size() != graph.inputs.size()) {
    return InvalidArgument("the model has " + std::to_string(graph.inputs.size()) + " inputs, got " +
                           std::to_string(input_shapes.size()));
  }
  std::unique_ptr<Plan> plan(new Plan());
  plan->engine_ = engine;
  plan->contexts_ = contexts ? std::move(contexts) : std::make_shared<ContextPool>();
  const bool bf16 = precision == Precision::kBf16 && CpuSupportsBf16();
  PlanBuilder builder(engine, bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32, shared);
  std::map<std::string, PlanValue> values;
  for (const auto& [name, tensor] : graph.initializers) values[name] = PlanValue::Constant(tensor);
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    FOVEA_RETURN_IF_ERROR(CheckInputShape(graph.inputs[i], input_shapes[i]));
    PlanValue v = builder.NewExternalValue(input_shapes[i]);
    plan->input_buffers_.push_back(v.id);
    values[graph.inputs[i].name] = v;
  }
  std::map<std::string, std::vector<Use>> uses;
  for (const auto& node : graph.nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (!node.inputs[i].empty()) uses[node.inputs[i]].push_back({&node, i});
    }
  }
  std::set<std::string> graph_outputs;
  for (const auto& out : graph.outputs) graph_outputs.insert(out.name);
  for (const auto& node : graph.nodes) {
    const std::string first_output = node.outputs.empty() ? std::string() : node.outputs[0];
    builder.set_output_layout_query([&, first_output](const Shape& shape) -> std::optional<dnnl::memory::desc> {
      const auto readers = uses.find(first_output);
      if (readers == uses.end()) return std::nullopt;
      return LayoutReadersAgreeOn(readers->second, graph_outputs.contains(first_output), shape, values, builder);
    });
    std::vector<PlanValue> args;
    for (const auto& in : node.inputs) args.push_back(in.empty() ? PlanValue() : values.at(in));
    auto outs = EmitNode(node, builder, args);
    if (!outs.ok()) return outs.status().WithContext("node '" + node.name + "' (" + std::string(node.op->type()) + ")");
    for (size_t i = 0; i < node.outputs.size() && i < outs->size(); ++i) {
      if (!node.outputs[i].empty()) values[node.outputs[i]] = (*outs)[i];
    }
  }
  builder.set_output_layout_query(nullptr);
  for (const auto& out : graph.outputs) {
    const PlanValue& v = values.at(out.name);
    plan->output_shapes_.push_back(v.shape);
    plan->output_dtypes_.push_back(v.dtype);
    if (v.is_constant()) {
      plan->output_buffers_.push_back(-1);
      plan->constant_outputs_.push_back(*v.constant);
      continue;
    }
    PlanValue external = builder.NewExternalValue(v.shape, v.dtype);
    auto pd = dnnl::reorder::primitive_desc(engine, v.desc, engine, external.desc, builder.DefaultAttr());
    builder.AddStep(dnnl::reorder(pd), {{DNNL_ARG_FROM, v.id, {}}, {DNNL_ARG_TO, external.id, {}}},
                    pd.scratchpad_desc());
    plan->output_buffers_.push_back(external.id);
    plan->constant_outputs_.emplace_back();
  }
  plan->steps_ = builder.TakeSteps();
  plan->buffers_ = builder.buffers();
  plan->scratchpad_bytes_ = AlignUp(builder.scratchpad_bytes());
  plan->AssignStorageOffsets(builder.storage_sizes());
  return plan;
}

// Gives each internal storage an arena offset, reusing the bytes of storages whose last use has passed
// (first-fit over the live blocks), so the arena stays near the peak working set instead of the sum of all layers.
void Plan::AssignStorageOffsets(const std::vector<size_t>& storage_sizes) {
  const size_t n = storage_sizes.size();
  std::vector<int> first(n, -1), last(n, -1);
  for (size_t s = 0; s < steps_.size(); ++s) {
    for (const auto& arg : steps_[s].args) {
      if (arg.value_id < 0) continue;
      const auto storage = static_cast<size_t>(buffers_[static_cast<size_t>(arg.value_id)].storage);
      if (first[storage] < 0) first[storage] = static_cast<int>(s);
      last[storage] = static_cast<int>(s);
    }
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return first[a] < first[b]; });

  struct Block {
    size_t offset, size;
    int last;
  };
  std::vector<Block> live;  // sorted by offset
  storage_offsets_.assign(n, 0);
  arena_bytes_ = 0;
  for (size_t s : order) {
    if (storage_sizes[s] == 0 || first[s] < 0) continue;
    std::erase_if(live, [&](const Block& b) { return b.last < first[s]; });
    const size_t size = AlignUp(storage_sizes[s]);
    size_t offset = 0;
    auto it = live.begin();
    for (; it != live.end(); ++it) {
      if (it->offset >= offset + size) break;
      offset = std::max(offset, it->offset + it->size);
    }
    live.insert(it, {offset, size, last[s]});
    storage_offsets_[s] = offset;
    arena_bytes_ = std::max(arena_bytes_, offset + size);
  }
}

std::unique_ptr<Plan::ExecutionContext> Plan::NewContext() const {
  auto context = std::make_unique<ExecutionContext>();
  context->arena.reset(std::aligned_alloc(kArenaAlignment, context_bytes()));
  auto* base = static_cast<char*>(context->arena.get());
  context->stream = dnnl::stream(engine_);
  for (const auto& buffer : buffers_) {
    void* handle = buffer.external ? nullptr : base + storage_offsets_[static_cast<size_t>(buffer.storage)];
    context->memories.emplace_back(buffer.desc, engine_, handle);
  }
  dnnl::memory scratchpad(dnnl::memory::desc({static_cast<dnnl::memory::dim>(scratchpad_bytes_)},
                                             dnnl::memory::data_type::u8, dnnl::memory::format_tag::a),
                          engine_, base + arena_bytes_);
  for (const auto& step : steps_) {
    std::unordered_map<int, dnnl::memory> args;
    for (const auto& arg : step.args) {
      args[arg.dnnl_arg] = arg.value_id >= 0 ? context->memories[static_cast<size_t>(arg.value_id)] : arg.constant;
    }
    if (scratchpad_bytes_ > 0 && !step.host) args[DNNL_ARG_SCRATCHPAD] = scratchpad;
    context->step_args.push_back(std::move(args));
  }
  return context;
}

size_t Plan::context_bytes() const { return AlignUp(arena_bytes_ + scratchpad_bytes_) + kArenaAlignment; }

std::unique_ptr<Plan::ExecutionContext> Plan::AcquireContext() const {
  if (std::unique_ptr<PooledContext> kept = contexts_->Take(this)) {
    return std::unique_ptr<ExecutionContext>(static_cast<ExecutionContext*>(kept.release()));
  }
  contexts_->MakeRoom(context_bytes());
  return NewContext();
}

void Plan::ReleaseContext(std::unique_ptr<ExecutionContext> context) const {
  contexts_->Keep(this, std::move(context), context_bytes());
}

Status Plan::Run(std::span<const Tensor> inputs, std::span<Tensor> outputs) const {
  if (inputs.size() != input_buffers_.size() || outputs.size() != output_buffers_.size()) {
    return InvalidArgument("wrong number of inputs or outputs for this plan");
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].shape() != output_shapes_[i] || outputs[i].dtype() != output_dtypes_[i]) {
      return InvalidArgument("output " + std::to_string(i) + " must be " + DataTypeName(output_dtypes_[i]) + " " +
                             ShapeToString(output_shapes_[i]));
    }
  }
  auto context = AcquireContext();
  try {
    // Inputs and outputs are bound by storage, so aliases of an external buffer (a reshaped input) follow too.
    std::vector<void*> external_handles(storage_offsets_.size(), nullptr);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const auto storage = static_cast<size_t>(buffers_[static_cast<size_t>(input_buffers_[i])].storage);
      external_handles[storage] = const_cast<void*>(inputs[i].raw_data());
    }
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (output_buffers_[i] < 0) {
        std::memcpy(outputs[i].raw_data(), constant_outputs_[i].raw_data(), outputs[i].byte_size());
        continue;
      }
      const auto storage = static_cast<size_t>(buffers_[static_cast<size_t>(output_buffers_[i])].storage);
      external_handles[storage] = outputs[i].raw_data();
    }
    for (size_t b = 0; b < buffers_.size(); ++b) {
      if (buffers_[b].external) {
        context->memories[b].set_data_handle(external_handles[static_cast<size_t>(buffers_[b].storage)]);
      }
    }
    for (size_t s = 0; s < steps_.size(); ++s) {
      if (steps_[s].host) {
        context->stream.wait();  // a host step reads what the primitives before it wrote
        const Status status = RunHostStep(steps_[s], context->step_args[s]);
        if (!status.ok()) {
          ReleaseContext(std::move(context));
          return status;
        }
        continue;
      }
      steps_[s].primitive.execute(context->stream, context->step_args[s]);
    }
    context->stream.wait();
  } catch (const dnnl::error& e) {
    return Internal(std::string("oneDNN execution failed: ") + e.what());
  }
  ReleaseContext(std::move(context));
  return OkStatus();
}

}  // namespace fovea::engine
