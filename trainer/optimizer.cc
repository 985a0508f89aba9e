#include "trainer/optimizer.h"

#include <cmath>
#include <utility>

namespace fovea::trainer {
namespace {

// One state vector per trainable parameter, in store order.
std::vector<std::vector<float>> ZeroState(const ParameterStore& store) {
  std::vector<std::vector<float>> state;
  for (const auto& p : store.all()) {
    if (p->trainable) state.emplace_back(p->value.size(), 0.0f);
  }
  return state;
}

class SgdOptimizer final : public Optimizer {
 public:
  SgdOptimizer(OptimizerOptions options, const ParameterStore& store)
      : options_(std::move(options)), velocity_(ZeroState(store)) {}

  void Step(ParameterStore& store, float lr) override {
    size_t index = 0;
    for (auto& p : store.all()) {
      if (!p->trainable) continue;
      std::vector<float>& v = velocity_[index++];
      const float decay = p->decay ? options_.weight_decay : 0.0f;
      const float momentum = options_.momentum;
      const float rate = lr * p->lr_scale;
      const auto n = static_cast<int64_t>(p->value.size());
      float* w = p->value.data();
      const float* g = p->grad.data();
      float* vel = v.data();
#pragma omp parallel for simd if (n > 65536)
      for (int64_t i = 0; i < n; ++i) {
        const float grad = g[i] + decay * w[i];
        vel[i] = momentum * vel[i] + grad;
        w[i] -= rate * (options_.nesterov ? grad + momentum * vel[i] : vel[i]);
      }
    }
  }

  std::vector<std::vector<float>*> State() override {
    std::vector<std::vector<float>*> state;
    for (auto& v : velocity_) state.push_back(&v);
    return state;
  }

 private:
  OptimizerOptions options_;
  std::vector<std::vector<float>> velocity_;
};

class AdamWOptimizer final : public Optimizer {
 public:
  AdamWOptimizer(OptimizerOptions options, const ParameterStore& store)
      : options_(std::move(options)), first_(ZeroState(store)), second_(ZeroState(store)), step_(1, 0.0f) {}

  void Step(ParameterStore& store, float lr) override {
    // The step count lives in a state vector so that checkpoints restore the bias correction too.
    const float t = ++step_[0];
    const float correction1 = 1.0f - std::pow(options_.beta1, t);
    const float correction2 = 1.0f - std::pow(options_.beta2, t);
    size_t index = 0;
    for (auto& p : store.all()) {
      if (!p->trainable) continue;
      float* m = first_[index].data();
      float* v = second_[index++].data();
      const float decay = p->decay ? options_.weight_decay : 0.0f;
      const float rate = lr * p->lr_scale;
      const auto n = static_cast<int64_t>(p->value.size());
      float* w = p->value.data();
      const float* g = p->grad.data();
      for (int64_t i = 0; i < n; ++i) {
        m[i] = options_.beta1 * m[i] + (1.0f - options_.beta1) * g[i];
        v[i] = options_.beta2 * v[i] + (1.0f - options_.beta2) * g[i] * g[i];
        const float update = (m[i] / correction1) / (std::sqrt(v[i] / correction2) + options_.epsilon);
        w[i] -= rate * (update + decay * w[i]);
      }
    }
  }

  std::vector<std::vector<float>*> State() override {
    std::vector<std::vector<float>*> state = {&step_};
    for (auto& m : first_) state.push_back(&m);
    for (auto& v : second_) state.push_back(&v);
    return state;
  }

 private:
  OptimizerOptions options_;
  std::vector<std::vector<float>> first_, second_;
  std::vector<float> step_;
};

}  // namespace

StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerOptions& options, const ParameterStore& store) {
  if (options.kind == "sgd") return std::unique_ptr<Optimizer>(new SgdOptimizer(options, store));
  if (options.kind == "adamw") return std::unique_ptr<Optimizer>(new AdamWOptimizer(options, store));
  return InvalidArgument("unknown optimizer '" + options.kind + "' (use sgd or adamw)");
}

}  // namespace fovea::trainer
