#pragma once
// Factories for the resampling family: Resize (opsets 10, 11, 13), Upsample (opsets 7 and 9) and ConvTranspose.

#include "modelio/op_factory.h"

namespace fovea::modelio {

OpResult CreateResize(const onnx::NodeProto& node, int64_t opset);
OpResult CreateUpsample(const onnx::NodeProto& node, int64_t opset);
OpResult CreateConvTranspose(const onnx::NodeProto& node, int64_t opset);

}  // namespace fovea::modelio
