#pragma once
// Parameters: the network's learnable tensors (and BatchNorm's running statistics), in plain row-major layout, owned
// by a ParameterStore that outlives every compiled network using them. Layers read `value` and write `grad`.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace fovea::trainer {

struct Parameter {
  std::string name;          // "conv1.weight": unique, also the ONNX initializer name
  engine::Shape shape;       // logical shape (conv weights OIHW, linear weights [out, in...])
  std::vector<float> value;  // row-major
  std::vector<float> grad;   // same size; overwritten by each backward pass (empty for state)
  bool trainable = true;     // false for running statistics
  bool decay = true;         // weight decay applies (weights yes; biases and BatchNorm scale/shift no)
  float lr_scale = 1.0f;     // multiplies the schedule's learning rate (a fine-tuned backbone's is lower)
};

class ParameterStore {
 public:
  // Adds a zero-initialized parameter; the reference stays valid for the store's lifetime.
  Parameter& Add(const std::string& name, const engine::Shape& shape, bool trainable, bool decay);
  Parameter* Find(const std::string& name);
  const Parameter* Find(const std::string& name) const;

  const std::vector<std::unique_ptr<Parameter>>& all() const { return params_; }
  // Number of trainable scalars.
  int64_t TrainableCount() const;

 private:
  std::vector<std::unique_ptr<Parameter>> params_;
};

}  // namespace fovea::trainer
