#include "engine/session.h"

#include <chrono>

#include "engine/threading.h"

namespace fovea::engine {

Session::Session(std::shared_ptr<const Model> model, size_t max_cached_plans, size_t idle_context_bytes)
    : model_(std::move(model)),
      engine_(dnnl::engine::kind::cpu, 0),
      constants_(model_->graph().initializers),
      contexts_(std::make_shared<ContextPool>(idle_context_bytes)),
      max_cached_plans_(max_cached_plans) {}

StatusOr<std::unique_ptr<Session>> Session::Create(std::shared_ptr<const Model> model, size_t max_cached_plans,
                                                   size_t idle_context_bytes) {
  if (!model) return InvalidArgument("no model");
  if (max_cached_plans == 0) return InvalidArgument("a session must be able to keep at least one plan");
  try {
    return std::unique_ptr<Session>(new Session(std::move(model), max_cached_plans, idle_context_bytes));
  } catch (const dnnl::error& e) {
    return Internal(std::string("cannot create the oneDNN CPU engine: ") + e.what());
  }
}

StatusOr<std::shared_ptr<const Plan>> Session::PlanFor(std::span<const Shape> input_shapes) const {
  PlanKey key{ComputeThreadsForThisThread(), std::vector<Shape>(input_shapes.begin(), input_shapes.end())};
  std::promise<StatusOr<std::shared_ptr<const Plan>>> promise;
  PlanFuture future;
  bool compile_here = false;
  {
    std::lock_guard lock(mutex_);
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      future = promise.get_future().share();
      plans_.emplace(key, CachedPlan{future, ++use_clock_});
      compile_here = true;
      EvictLeastRecentlyUsed();
    } else {
      future = it->second.future;
      it->second.last_used = ++use_clock_;
    }
  }
  if (compile_here) {
    auto plan = Plan::Compile(model_->graph(), input_shapes, engine_, model_->precision(), &constants_, contexts_);
    if (plan.ok()) {
      promise.set_value(std::shared_ptr<const Plan>(std::move(plan).value()));
    } else {
      promise.set_value(plan.status());
      // Failed shapes are not cached: the error is usually the caller's input, and the map must not grow with it.
      std::lock_guard lock(mutex_);
      plans_.erase(key);
    }
  }
  return future.get();
}

StatusOr<std::vector<Tensor>> Session::Run(std::span<const Tensor> inputs) const {
  std::vector<Shape> shapes;
  for (const auto& t : inputs) shapes.push_back(t.shape());
  const auto& graph_inputs = model_->graph().inputs;
  for (size_t i = 0; i < inputs.size() && i < graph_inputs.size(); ++i) {
    if (inputs[i].dtype() != graph_inputs[i].dtype) {
      return InvalidArgument("input '" + graph_inputs[i].name + "' must be " + DataTypeName(graph_inputs[i].dtype) +
                             ", got " + DataTypeName(inputs[i].dtype()));
    }
  }
  FOVEA_ASSIGN_OR_RETURN(auto plan, PlanFor(shapes));
  std::vector<Tensor> outputs;
  for (size_t i = 0; i < plan->output_shapes().size(); ++i) {
    outputs.emplace_back(plan->output_dtypes()[i], plan->output_shapes()[i]);
  }
  FOVEA_RETURN_IF_ERROR(plan->Run(inputs, outputs));
  return outputs;
}

void Session::EvictLeastRecentlyUsed() const {
  while (plans_.size() > max_cached_plans_) {
    auto oldest = plans_.end();
    for (auto it = plans_.begin(); it != plans_.end(); ++it) {
      // A plan still compiling has waiters on its future; it is never the one dropped.
      const bool ready = it->second.future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      if (ready && (oldest == plans_.end() || it->second.last_used < oldest->second.last_used)) oldest = it;
    }
    if (oldest == plans_.end()) return;
    plans_.erase(oldest);
  }
}

size_t Session::cached_plans() const {
  std::lock_guard lock(mutex_);
  return plans_.size();
}

}  // namespace fovea::engine
