#pragma once
// Writes a post-training-quantized copy of an ONNX model in the standard QDQ form (docs/model-format.md, "Quantized
// models"): every quantized Conv reads DequantizeLinear(QuantizeLinear(x)) with a per-tensor activation scale and
// DequantizeLinear(int8 weights) with per-output-channel scales (axis 0), all zero points 0. Any ONNX runtime can run
// the result; Fovea's FuseQuantizedConvs pass turns each pattern into one int8 oneDNN convolution.

#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace fovea::modelio {

// One Conv node to quantize, with the values the quantizer computed for it.
struct QdqConv {
  std::string node;                  // the Conv node's name in the file
  engine::Tensor weights;            // int8 [M, C/group, kH, kW]
  std::vector<float> weight_scales;  // one per output channel
  engine::Tensor bias;               // float32 [M], BatchNormalization folded in
  std::string folded_batch_norm;     // the BatchNormalization node folded into weights and bias ("" = none); removed
  float input_scale = 1.0f;          // x ≈ input_scale * x_q
  engine::DataType input_type = engine::DataType::kUint8;  // uint8 for non-negative inputs (after ReLU), else int8
};

// The model `onnx_bytes` with `convs` quantized and `metadata` entries added (replacing equal keys), checked by the
// ONNX checker and serialized. The opset must be 13 or later (per-axis DequantizeLinear).
StatusOr<std::string> WriteQdqModel(std::string_view onnx_bytes, std::span<const QdqConv> convs,
                                    const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace fovea::modelio
