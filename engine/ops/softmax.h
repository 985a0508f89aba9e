#pragma once
// Softmax and LogSoftmax (ONNX) along one axis, on oneDNN softmax/logsoftmax.

#include <memory>
#include <vector>

#include "engine/op.h"

namespace fovea::engine::ops {

struct SoftmaxParams {
  int64_t axis = -1;
  bool log = false;        // LogSoftmax
  bool legacy_2d = false;  // opset < 13: coerce to 2-D at axis and normalize over the whole trailing block
};

// Inputs: X. Output: Y like X.
class Softmax final : public Op {
 public:
  static StatusOr<std::unique_ptr<Softmax>> Create(const SoftmaxParams& params);

  std::string_view type() const override;
  const SoftmaxParams& params() const { return params_; }
  StatusOr<std::vector<Tensor>> Reference(std::span<const Tensor> inputs) const override;
  StatusOr<std::vector<PlanValue>> Emit(PlanBuilder& builder, std::span<const PlanValue> inputs) const override;
  bool IsSoftmax() const override { return !params_.log; }
  // Over the channel axis of NCHW every pixel is normalized on its own.
  StatusOr<SpatialGeometry> Geometry(std::span<const Shape> input_shapes) const override;

 private:
  explicit Softmax(const SoftmaxParams& params) : params_(params) {}
  SoftmaxParams params_;
};

}  // namespace fovea::engine::ops
