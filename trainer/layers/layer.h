#pragma once
// The trainer's layer interface: one network layer compiled for one batch size, running oneDNN forward (training or
// inference) and backward primitives. Layers keep oneDNN's preferred (blocked) layouts between them; parameters stay
// plain in the ParameterStore and are reordered at the primitive's edge.

#include <memory>
#include <utility>

#include <oneapi/dnnl/dnnl.hpp>

#include "common/status.h"

namespace fovea::trainer {

// What every layer is compiled with. `training` selects forward_training (batch statistics, pooling workspaces)
// and creates the backward primitives; otherwise forward_inference only.
struct LayerContext {
  dnnl::engine engine;
  dnnl::stream stream;
  bool training = true;
};

// Brings a memory into a wanted layout: the memory itself when it already has it, else a reorder into a buffer the
// adapter owns (created, like the reorder primitive, on first use and reused while the layouts stay the same).
class LayoutAdapter {
 public:
  dnnl::memory Adapt(const dnnl::memory& src, const dnnl::memory::desc& want, const LayerContext& context);

 private:
  dnnl::memory::desc src_desc_;
  dnnl::memory dst_;
  dnnl::reorder reorder_;
};

// A memory of `desc` owned by oneDNN (allocated now).
dnnl::memory NewMemory(const dnnl::memory::desc& desc, const LayerContext& context);
// Plain row-major f32 descriptor for `dims`.
dnnl::memory::desc PlainF32(const dnnl::memory::dims& dims);

class Layer {
 public:
  virtual ~Layer() = default;

  // Layout of the memory Forward returns.
  virtual const dnnl::memory::desc& dst_desc() const = 0;
  // Computes the output from `src` (whose layout is the one the layer was created for). `src` must stay unchanged
  // until Backward. The returned memory belongs to the layer and is overwritten by the next Forward.
  virtual const dnnl::memory& Forward(const dnnl::memory& src) = 0;
  // Given d(loss)/d(output) in any layout, overwrites the parameter gradients and returns d(loss)/d(src) in the
  // layout src had; returns an empty memory when the layer was created without a need for it (first layer).
  virtual dnnl::memory Backward(const dnnl::memory& diff_dst) = 0;
};

}  // namespace fovea::trainer
