#pragma once
// QLinearConv: an int8 convolution, what FuseQuantizedConvs (engine/passes.h) makes of the QDQ pattern
//   DequantizeLinear(x_q) → Conv(·, DequantizeLinear(w_q), bias) → [activations] → [QuantizeLinear]
// It reads u8/s8 activations and s8 weights (per-output-channel scales), accumulates in int32, adds the float bias,
// rescales per channel, applies the activations and writes u8/s8 (when a QuantizeLinear followed) or float32 — all in
// one oneDNN int8 convolution (VNNI/AMX kernels). Zero points must be 0 (symmetric weights, activations after ReLU).

#include <memory>
#include <vector>

#include "engine/op.h"
#include "engine/ops/conv.h"

namespace fovea::engine::ops {

struct QuantizedConvParams {
  ConvParams conv;  // geometry, group and activation post-ops (a sum post-op is not supported)
  DataType input_type = DataType::kUint8;
  float input_scale = 1.0f;          // x = input_scale * x_q
  std::vector<float> weight_scales;  // w[m] = weight_scales[m] * w_q[m] (one value = per tensor)
  bool quantized_output = false;     // else the output is float32
  DataType output_type = DataType::kUint8;
  float output_scale = 1.0f;  // y_q = saturate(round(y / output_scale)), when quantized_output
};

// Inputs: X_q [N, C, H, W] (input_type), W_q [M, C/group, kH, kW] (int8), optional B [M] (float32).
// Output: Y [N, M, oH, oW], output_type when quantized_output, else float32.
class QuantizedConv final : public Op {
 public:
  static StatusOr<std::unique_ptr<QuantizedConv>> Create(const QuantizedConvParams& params);

  std::string_view type() const override { return "QLinearConv"; }
  const QuantizedConvParams& params() const { return params_; }
  // Dequantizes X and W, runs the float Conv reference, quantizes Y: the semantics of the QDQ graph it replaces.
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape> input_shapes) const override {
    std::vector<int64_t> kernel;
    if (input_shapes.size() > 1 && input_shapes[1].size() == 4) kernel = {input_shapes[1][2], input_shapes[1][3]};
    return WindowGeometry(params_.conv.window, kernel, type());
  }
  bool IsFeatureMapProducer() const override { return true; }
  // The float Conv with the same geometry, group and activations.
  std::optional<FloatForm> Dequantized() const override;

 private:
  explicit QuantizedConv(QuantizedConvParams params) : params_(std::move(params)) {}
  // The same convolution in float32 arithmetic (dequantize the input, float weights, requantize the output): for
  // CPUs where oneDNN's int8 kernels saturate (engine/cpu_features.h).
  StatusOr<std::vector<PlanValue>> EmitInFloat(PlanBuilder& builder, std::span<const PlanValue> inputs) const;
  QuantizedConvParams params_;
};

}  // namespace fovea::engine::ops
