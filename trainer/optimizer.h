#pragma once
// Optimizers over a ParameterStore's trainable parameters: SGD with (Nesterov) momentum and L2 weight decay, and
// AdamW (decoupled weight decay). Weight decay skips parameters marked decay = false (biases, BatchNorm).

#include <memory>
#include <string>
#include <vector>

#include "trainer/parameters.h"

namespace fovea::trainer {

struct OptimizerOptions {
  std::string kind = "sgd";  // "sgd" or "adamw"
  float momentum = 0.9f;     // SGD
  bool nesterov = true;      // SGD
  float weight_decay = 5e-4f;
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;  // AdamW
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Applies one update with learning rate `lr` (times each parameter's lr_scale) using the gradients in the store.
  virtual void Step(ParameterStore& store, float lr) = 0;
  // Optimizer state (momentum buffers, moments) as named vectors, for checkpoints.
  virtual std::vector<std::vector<float>*> State() = 0;
};

// Creates the optimizer `options.kind` for `store`; InvalidArgument for an unknown kind.
StatusOr<std::unique_ptr<Optimizer>> MakeOptimizer(const OptimizerOptions& options, const ParameterStore& store);

}  // namespace fovea::trainer
