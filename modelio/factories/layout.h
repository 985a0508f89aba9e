#pragma once
// Op factories for the layout and shape family: Transpose, Slice, Split, Expand, Tile, DepthToSpace, SpaceToDepth,
// and the shape-arithmetic ops that fold at load (ConstantOfShape, Range, comparisons, logic, Where). Each handles its
// op's attribute-versus-input forms across opsets 7-17.

#include "modelio/op_factory.h"

namespace fovea::modelio {

OpResult CreateTranspose(const onnx::NodeProto& node, int64_t opset);
OpResult CreateSlice(const onnx::NodeProto& node, int64_t opset);
OpResult CreateSplit(const onnx::NodeProto& node, int64_t opset);
OpResult CreateExpand(const onnx::NodeProto& node, int64_t opset);
OpResult CreateTile(const onnx::NodeProto& node, int64_t opset);
OpResult CreateDepthToSpace(const onnx::NodeProto& node, int64_t opset);
OpResult CreateSpaceToDepth(const onnx::NodeProto& node, int64_t opset);
OpResult CreateConstantOfShape(const onnx::NodeProto& node, int64_t opset);
OpResult CreateRange(const onnx::NodeProto& node, int64_t opset);
OpResult CreateWhere(const onnx::NodeProto& node, int64_t opset);
OpResult CreateEqual(const onnx::NodeProto& node, int64_t opset);
OpResult CreateLess(const onnx::NodeProto& node, int64_t opset);
OpResult CreateLessOrEqual(const onnx::NodeProto& node, int64_t opset);
OpResult CreateGreater(const onnx::NodeProto& node, int64_t opset);
OpResult CreateGreaterOrEqual(const onnx::NodeProto& node, int64_t opset);
OpResult CreateNot(const onnx::NodeProto& node, int64_t opset);
OpResult CreateAnd(const onnx::NodeProto& node, int64_t opset);
OpResult CreateOr(const onnx::NodeProto& node, int64_t opset);
OpResult CreateXor(const onnx::NodeProto& node, int64_t opset);

}  // namespace fovea::modelio
