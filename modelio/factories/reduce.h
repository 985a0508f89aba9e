#pragma once
// Factories of the reduction and normalization ops (engine/ops/reduce.h, arg_reduce.h, layer_norm.h,
// instance_norm.h, lrn.h, mvn.h) for modelio/op_table.cc, across opsets 7 to 17.

#include "modelio/op_factory.h"

namespace fovea::modelio {

OpResult CreateReduceL1(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceL2(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceLogSum(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceLogSumExp(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceMax(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceMean(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceMin(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceProd(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceSum(const onnx::NodeProto& node, int64_t opset);
OpResult CreateReduceSumSquare(const onnx::NodeProto& node, int64_t opset);

OpResult CreateArgMax(const onnx::NodeProto& node, int64_t opset);
OpResult CreateArgMin(const onnx::NodeProto& node, int64_t opset);

OpResult CreateLayerNormalization(const onnx::NodeProto& node, int64_t opset);
OpResult CreateInstanceNormalization(const onnx::NodeProto& node, int64_t opset);
OpResult CreateLrn(const onnx::NodeProto& node, int64_t opset);
OpResult CreateMeanVarianceNormalization(const onnx::NodeProto& node, int64_t opset);

}  // namespace fovea::modelio
