#pragma once
// The one table from ONNX op types to engine op factories (docs/model-format.md lists what each supports). Dispatch
// on op-type strings happens here and nowhere else in Fovea.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "engine/op.h"

namespace fovea::modelio {

// Builds the engine op for `node` of the default ONNX domain at `opset`. An unsupported op, attribute value or
// output is an error naming the node, the op and what is supported (Unimplemented for features Fovea lacks,
// InvalidArgument for malformed attributes).
StatusOr<std::shared_ptr<const engine::Op>> CreateOp(const onnx::NodeProto& node, int64_t opset);

// True for a Constant node, which the importer folds into an initializer instead of creating an op.
bool IsConstantNode(const onnx::NodeProto& node);

// Every ONNX op type the table accepts, sorted ("BatchNormalization", "Cast", …), Constant included.
std::vector<std::string> SupportedOps();

// "node 'conv1' (Conv)": how messages name a node.
std::string NodeLabel(const onnx::NodeProto& node);

}  // namespace fovea::modelio
