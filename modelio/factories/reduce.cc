#include "modelio/factories/reduce.h"

#include <string>

#include "engine/ops/arg_reduce.h"
#include "engine/ops/instance_norm.h"
#include "engine/ops/layer_norm.h"
#include "engine/ops/lrn.h"
#include "engine/ops/mvn.h"
#include "engine/ops/reduce.h"

namespace fovea::modelio {
namespace {

namespace ops = engine::ops;
using Kind = ops::ReduceKind;

// Opsets at which the reductions' axes moved from an attribute to the optional second input.
constexpr int64_t kReduceSumAxesAsInputOpset = 13;
constexpr int64_t kReduceAxesAsInputOpset = 18;
// LayerNormalization's stash_type: the only precision Fovea computes statistics in (ONNX FLOAT).
constexpr int64_t kFloatStashType = 1;
constexpr float kDefaultNormEpsilon = 1e-5f;

OpResult CreateReduce(const onnx::NodeProto& node, int64_t opset, Kind kind) {
  ops::ReduceParams params;
  params.kind = kind;
  const int64_t input_opset = kind == Kind::kSum ? kReduceSumAxesAsInputOpset : kReduceAxesAsInputOpset;
  params.axes_from_input = opset >= input_opset;
  if (!params.axes_from_input) {
    FOVEA_ASSIGN_OR_RETURN(params.axes, IntsAttribute(node, "axes"));
  }
  FOVEA_ASSIGN_OR_RETURN(int64_t keepdims, IntAttribute(node, "keepdims", 1));
  FOVEA_ASSIGN_OR_RETURN(int64_t noop, IntAttribute(node, "noop_with_empty_axes", 0));
  params.keepdims = keepdims != 0;
  params.noop_with_empty_axes = noop != 0;
  return Share(ops::Reduce::Create(params));
}

OpResult CreateArgReduce(const onnx::NodeProto& node, bool is_max) {
  ops::ArgReduceParams params;
  params.is_max = is_max;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", 0));
  FOVEA_ASSIGN_OR_RETURN(int64_t keepdims, IntAttribute(node, "keepdims", 1));
  FOVEA_ASSIGN_OR_RETURN(int64_t select_last, IntAttribute(node, "select_last_index", 0));
  params.keepdims = keepdims != 0;
  params.select_last_index = select_last != 0;
  return Share(ops::ArgReduce::Create(params));
}

}  // namespace

OpResult CreateReduceL1(const onnx::NodeProto& node, int64_t opset) { return CreateReduce(node, opset, Kind::kL1); }
OpResult CreateReduceL2(const onnx::NodeProto& node, int64_t opset) { return CreateReduce(node, opset, Kind::kL2); }
OpResult CreateReduceLogSum(const onnx::NodeProto& node, int64_t opset) {
  return CreateReduce(node, opset, Kind::kLogSum);
}
OpResult CreateReduceLogSumExp(const onnx::NodeProto& node, int64_t opset) {
  return CreateReduce(node, opset, Kind::kLogSumExp);
}
OpResult CreateReduceMax(const onnx::NodeProto& node, int64_t opset) { return CreateReduce(node, opset, Kind::kMax); }
OpResult CreateReduceMean(const onnx::NodeProto& node, int64_t opset) { return CreateReduce(node, opset, Kind::kMean); }
OpResult CreateReduceMin(const onnx::NodeProto& node, int64_t opset) { return CreateReduce(node, opset, Kind::kMin); }
OpResult CreateReduceProd(const onnx::NodeProto& node, int64_t opset) { return CreateReduce(node, opset, Kind::kProd); }
OpResult CreateReduceSum(const onnx::NodeProto& node, int64_t opset) { return CreateReduce(node, opset, Kind::kSum); }
OpResult CreateReduceSumSquare(const onnx::NodeProto& node, int64_t opset) {
  return CreateReduce(node, opset, Kind::kSumSquare);
}

OpResult CreateArgMax(const onnx::NodeProto& node, int64_t) { return CreateArgReduce(node, /*is_max=*/true); }
OpResult CreateArgMin(const onnx::NodeProto& node, int64_t) { return CreateArgReduce(node, /*is_max=*/false); }

OpResult CreateLayerNormalization(const onnx::NodeProto& node, int64_t) {
  FOVEA_ASSIGN_OR_RETURN(int64_t stash_type, IntAttribute(node, "stash_type", kFloatStashType));
  if (stash_type != kFloatStashType) {
    return Unimplemented("stash_type=" + std::to_string(stash_type) + " is not supported; supported: 1 (FLOAT)");
  }
  ops::LayerNormParams params;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", params.axis));
  FOVEA_ASSIGN_OR_RETURN(params.epsilon, FloatAttribute(node, "epsilon", kDefaultNormEpsilon));
  return Share(ops::LayerNorm::Create(params));
}

OpResult CreateInstanceNormalization(const onnx::NodeProto& node, int64_t) {
  ops::InstanceNormParams params;
  FOVEA_ASSIGN_OR_RETURN(params.epsilon, FloatAttribute(node, "epsilon", kDefaultNormEpsilon));
  return Share(ops::InstanceNorm::Create(params));
}

OpResult CreateLrn(const onnx::NodeProto& node, int64_t) {
  if (FindAttribute(node, "size") == nullptr) return InvalidArgument("attribute 'size' is required");
  ops::LrnParams params;
  FOVEA_ASSIGN_OR_RETURN(params.size, IntAttribute(node, "size", params.size));
  FOVEA_ASSIGN_OR_RETURN(params.alpha, FloatAttribute(node, "alpha", params.alpha));
  FOVEA_ASSIGN_OR_RETURN(params.beta, FloatAttribute(node, "beta", params.beta));
  FOVEA_ASSIGN_OR_RETURN(params.bias, FloatAttribute(node, "bias", params.bias));
  return Share(ops::Lrn::Create(params));
}

OpResult CreateMeanVarianceNormalization(const onnx::NodeProto& node, int64_t) {
  ops::MvnParams params;
  if (FindAttribute(node, "axes") != nullptr) {
    FOVEA_ASSIGN_OR_RETURN(params.axes, IntsAttribute(node, "axes"));
  }
  return Share(ops::Mvn::Create(params));
}

}  // namespace fovea::modelio
