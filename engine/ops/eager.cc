#include "engine/ops/eager.h"

#include "engine/plan_builder.h"

namespace fovea::engine::ops {

dnnl::memory Eager::Memory(const Tensor& tensor) const { return Memory(tensor, PlainDesc(tensor.shape())); }

dnnl::memory Eager::Memory(const Tensor& tensor, const dnnl::memory::desc& desc) const {
  // oneDNN takes a non-const handle for inputs and outputs alike; inputs are only read.
  return {desc, engine_, const_cast<void*>(tensor.raw_data())};
}

void Eager::Run(const dnnl::primitive& primitive, const std::unordered_map<int, dnnl::memory>& args) {
  primitive.execute(stream_, args);
  stream_.wait();
}

}  // namespace fovea::engine::ops
