#include "trainer/parameters.h"

namespace fovea::trainer {

Parameter& ParameterStore::Add(const std::string& name, const engine::Shape& shape, bool trainable, bool decay) {
  auto param = std::make_unique<Parameter>();
  param->name = name;
  param->shape = shape;
  const auto count = static_cast<size_t>(engine::NumElements(shape));
  param->value.assign(count, 0.0f);
  if (trainable) param->grad.assign(count, 0.0f);
  param->trainable = trainable;
  param->decay = decay;
  params_.push_back(std::move(param));
  return *params_.back();
}

Parameter* ParameterStore::Find(const std::string& name) {
  for (auto& p : params_) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

const Parameter* ParameterStore::Find(const std::string& name) const {
  for (const auto& p : params_) {
    if (p->name == name) return p.get();
  }
  return nullptr;
}

int64_t ParameterStore::TrainableCount() const {
  int64_t count = 0;
  for (const auto& p : params_) {
    if (p->trainable) count += static_cast<int64_t>(p->value.size());
  }
  return count;
}

}  // namespace fovea::trainer
