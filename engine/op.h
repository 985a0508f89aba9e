#pragma once
// The op interface. Every op in engine/ops/ implements it once: a plain-loop reference kernel (the oracle for tests and
// the evaluator for values known at load time, such as PyTorch's shape arithmetic) and an Emit step that adds oneDNN
// primitives to a plan under construction.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "engine/plan_builder.h"
#include "engine/status.h"
#include "engine/tensor.h"

namespace fovea::engine {

class Op {
 public:
  virtual ~Op() = default;

  // The ONNX operator this op implements ("Conv"), for messages.
  virtual std::string_view type() const = 0;

  // Computes the outputs with naive loops on plain tensors. An absent optional input is a Tensor without data.
  virtual StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const = 0;

  // Adds the primitives computing this op to `builder` and returns the output values. Inputs may be runtime values or
  // plan-time constants (weights); an absent optional input is a PlanValue that is not present().
  virtual StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const = 0;

  // True when the op may run on values known at plan time through Reference (constant folding). Ops whose reference
  // kernel is slow on large weights still fold; only ops with side effects would say no.
  virtual bool FoldsConstants() const { return true; }
  // The layout this op would read its first input in, for the producer of that input to write directly instead of
  // leaving a reorder between the two; nullopt when the op reads whatever layout it is given. Asked before the first
  // input exists: inputs[0] carries only its shape, the other inputs are what the plan knows of them so far.
  virtual std::optional<dnnl::memory::desc> PreferredFirstInputLayout(PlanBuilder& /*builder*/,
                                                                      std::span<const PlanValue> /*inputs*/) const {
    return std::nullopt;
  }
};

}  // namespace fovea::engine
