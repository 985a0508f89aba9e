#pragma once
// What the op table's factories share. A factory turns one ONNX node (at the model's opset) into an engine op; the
// factories live in modelio/factories/<family>.cc, one file per family of ops, and modelio/op_table.cc lists them all
// in its one table from op type to factory.

#include <cstdint>
#include <memory>
#include <string>

#include <onnx/onnx_pb.h>

#include "engine/op.h"
#include "modelio/node_attributes.h"

namespace fovea::modelio {

using OpResult = StatusOr<std::shared_ptr<const engine::Op>>;
using OpFactory = OpResult (*)(const onnx::NodeProto& node, int64_t opset);

// Turns an op's own factory result into the table's shared, immutable op.
template <typename T>
OpResult Share(StatusOr<std::unique_ptr<T>> op) {
  if (!op.ok()) return op.status();
  return std::shared_ptr<const engine::Op>(std::move(op).value());
}

// Rejects a node that uses optional output `index`, which Fovea does not compute.
Status RequireUnusedOutput(const onnx::NodeProto& node, int index, const std::string& what);

}  // namespace fovea::modelio
