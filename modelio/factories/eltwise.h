#pragma once
// Factories for the elementwise ops: activations and unary math (engine/ops/activation), binary arithmetic
// (engine/ops/binary), the variadic Sum/Mean/Min/Max (engine/ops/variadic) and PRelu (engine/ops/prelu).

#include "engine/ops/activation_params.h"
#include "engine/ops/binary.h"
#include "engine/ops/variadic.h"
#include "modelio/op_factory.h"

namespace fovea::modelio {

// An activation of `kind` with its attributes read from `node` (defaults from ONNX): alpha, beta, gamma, lambd, bias as
// the kind names them. Clip reads min/max attributes before opset 11 and takes them as inputs from then on.
OpResult CreateActivationOfKind(engine::ops::ActivationKind kind, const onnx::NodeProto& node, int64_t opset);

template <engine::ops::ActivationKind kKind>
OpResult CreateActivation(const onnx::NodeProto& node, int64_t opset) {
  return CreateActivationOfKind(kKind, node, opset);
}

OpResult CreateBinaryOfKind(engine::ops::BinaryParams::Kind kind, const onnx::NodeProto& node, int64_t opset);

template <engine::ops::BinaryParams::Kind kKind>
OpResult CreateBinary(const onnx::NodeProto& node, int64_t opset) {
  return CreateBinaryOfKind(kKind, node, opset);
}

// Sum, Mean, Min and Max of any number of inputs (≥ 1).
OpResult CreateVariadicOfKind(engine::ops::VariadicParams::Kind kind, const onnx::NodeProto& node, int64_t opset);

template <engine::ops::VariadicParams::Kind kKind>
OpResult CreateVariadic(const onnx::NodeProto& node, int64_t opset) {
  return CreateVariadicOfKind(kKind, node, opset);
}

OpResult CreatePRelu(const onnx::NodeProto& node, int64_t opset);

}  // namespace fovea::modelio
