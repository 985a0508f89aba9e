#include "modelio/op_table.h"

#include <algorithm>
#include <map>

#include "engine/ops/batch_norm.h"
#include "engine/ops/cast.h"
#include "engine/ops/concat.h"
#include "engine/ops/conv.h"
#include "engine/ops/flatten.h"
#include "engine/ops/gather.h"
#include "engine/ops/gemm.h"
#include "engine/ops/identity.h"
#include "engine/ops/matmul.h"
#include "engine/ops/pad.h"
#include "engine/ops/pool.h"
#include "engine/ops/quantize.h"
#include "engine/ops/reshape.h"
#include "engine/ops/shape_of.h"
#include "engine/ops/softmax.h"
#include "engine/ops/squeeze.h"
#include "modelio/factories/eltwise.h"
#include "modelio/factories/layout.h"
#include "modelio/factories/reduce.h"
#include "modelio/factories/resample.h"
#include "modelio/node_attributes.h"
#include "modelio/op_factory.h"
#include "modelio/tensor_proto.h"

namespace fovea::modelio {
namespace {

namespace ops = engine::ops;
constexpr std::string_view kConstantOp = "Constant";
// Opsets at which ONNX moved an attribute into an input or changed a default.
constexpr int64_t kSoftmaxAxisOpset = 13;
constexpr int64_t kPadsAsInputsOpset = 11;
constexpr int64_t kSqueezeAxesAsInputOpset = 13;
constexpr int64_t kLegacySoftmaxAxis = 1;
constexpr int64_t kBatchNormSpatialRemovedOpset = 9;
constexpr float kDefaultBatchNormEpsilon = 1e-5f;

OpResult CreateConv(const onnx::NodeProto& node, int64_t) {
  ops::ConvParams params;
  FOVEA_ASSIGN_OR_RETURN(params.window, WindowFromAttributes(node, /*read_ceil_mode=*/false));
  FOVEA_ASSIGN_OR_RETURN(params.group, IntAttribute(node, "group", 1));
  return Share(ops::Conv::Create(params));
}

OpResult CreateMaxPool(const onnx::NodeProto& node, int64_t) {
  FOVEA_RETURN_IF_ERROR(RequireUnusedOutput(node, 1, "Indices"));
  FOVEA_ASSIGN_OR_RETURN(int64_t storage_order, IntAttribute(node, "storage_order", 0));
  if (storage_order != 0) {
    return Unimplemented("storage_order=" + std::to_string(storage_order) + " is not supported; supported: 0");
  }
  ops::PoolParams params;
  params.kind = ops::PoolParams::Kind::kMax;
  FOVEA_ASSIGN_OR_RETURN(params.window, WindowFromAttributes(node, /*read_ceil_mode=*/true));
  return Share(ops::Pool::Create(params));
}

OpResult CreateAveragePool(const onnx::NodeProto& node, int64_t) {
  ops::PoolParams params;
  params.kind = ops::PoolParams::Kind::kAverage;
  FOVEA_ASSIGN_OR_RETURN(params.window, WindowFromAttributes(node, /*read_ceil_mode=*/true));
  FOVEA_ASSIGN_OR_RETURN(int64_t count_include_pad, IntAttribute(node, "count_include_pad", 0));
  params.count_include_pad = count_include_pad != 0;
  return Share(ops::Pool::Create(params));
}

template <ops::PoolParams::Kind kKind>
OpResult CreateGlobalPool(const onnx::NodeProto&, int64_t) {
  ops::PoolParams params;
  params.kind = kKind;
  params.global = true;
  return Share(ops::Pool::Create(params));
}

OpResult CreateBatchNormalization(const onnx::NodeProto& node, int64_t opset) {
  if (opset < kBatchNormSpatialRemovedOpset) {
    FOVEA_ASSIGN_OR_RETURN(int64_t spatial, IntAttribute(node, "spatial", 1));
    if (spatial != 1) return Unimplemented("spatial=0 (statistics per element) is not supported; supported: 1");
  }
  FOVEA_ASSIGN_OR_RETURN(int64_t training_mode, IntAttribute(node, "training_mode", 0));
  if (training_mode != 0) return Unimplemented("training_mode=1 is not supported; Fovea runs inference only");
  for (int i = 1; i < node.output_size(); ++i) {
    FOVEA_RETURN_IF_ERROR(RequireUnusedOutput(node, i, "training statistics"));
  }
  ops::BatchNormParams params;
  FOVEA_ASSIGN_OR_RETURN(params.epsilon, FloatAttribute(node, "epsilon", kDefaultBatchNormEpsilon));
  return Share(ops::BatchNorm::Create(params));
}

OpResult CreateGemm(const onnx::NodeProto& node, int64_t) {
  ops::GemmParams params;
  FOVEA_ASSIGN_OR_RETURN(params.alpha, FloatAttribute(node, "alpha", 1.0f));
  FOVEA_ASSIGN_OR_RETURN(params.beta, FloatAttribute(node, "beta", 1.0f));
  FOVEA_ASSIGN_OR_RETURN(int64_t trans_a, IntAttribute(node, "transA", 0));
  FOVEA_ASSIGN_OR_RETURN(int64_t trans_b, IntAttribute(node, "transB", 0));
  params.trans_a = trans_a != 0;
  params.trans_b = trans_b != 0;
  return Share(ops::Gemm::Create(params));
}

OpResult CreateMatMul(const onnx::NodeProto&, int64_t) { return Share(ops::MatMul::Create()); }

OpResult CreateFlatten(const onnx::NodeProto& node, int64_t) {
  ops::FlattenParams params;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", 1));
  return Share(ops::Flatten::Create(params));
}

OpResult CreateReshape(const onnx::NodeProto& node, int64_t) {
  FOVEA_ASSIGN_OR_RETURN(int64_t allow_zero, IntAttribute(node, "allowzero", 0));
  ops::ReshapeParams params;
  params.allow_zero = allow_zero != 0;
  return Share(ops::Reshape::Create(params));
}

template <ops::SqueezeParams::Kind kKind>
OpResult CreateSqueeze(const onnx::NodeProto& node, int64_t opset) {
  ops::SqueezeParams params;
  params.kind = kKind;
  // From opset 13 the axes are the optional second input instead of an attribute.
  if (opset < kSqueezeAxesAsInputOpset) {
    FOVEA_ASSIGN_OR_RETURN(params.axes, IntsAttribute(node, "axes"));
  }
  return Share(ops::Squeeze::Create(params));
}

template <bool kLog>
OpResult CreateSoftmax(const onnx::NodeProto& node, int64_t opset) {
  ops::SoftmaxParams params;
  params.log = kLog;
  // Before opset 13 Softmax flattened the input to 2-D at `axis` (default 1) and normalized the whole trailing block.
  params.legacy_2d = opset < kSoftmaxAxisOpset;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", params.legacy_2d ? kLegacySoftmaxAxis : -1));
  return Share(ops::Softmax::Create(params));
}

OpResult CreateConcat(const onnx::NodeProto& node, int64_t) {
  if (FindAttribute(node, "axis") == nullptr) return InvalidArgument("attribute 'axis' is required");
  ops::ConcatParams params;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", params.axis));
  return Share(ops::Concat::Create(params));
}

OpResult CreateDropout(const onnx::NodeProto& node, int64_t) {
  FOVEA_RETURN_IF_ERROR(RequireUnusedOutput(node, 1, "mask"));
  ops::IdentityParams params;
  params.is_dropout = true;
  return Share(ops::Identity::Create(params));
}

OpResult CreateIdentity(const onnx::NodeProto&, int64_t) { return Share(ops::Identity::Create({})); }

OpResult CreateShape(const onnx::NodeProto& node, int64_t) {
  ops::ShapeOfParams params;
  FOVEA_ASSIGN_OR_RETURN(params.start, IntAttribute(node, "start", params.start));
  FOVEA_ASSIGN_OR_RETURN(params.end, IntAttribute(node, "end", params.end));
  return Share(ops::ShapeOf::Create(params));
}

OpResult CreateGather(const onnx::NodeProto& node, int64_t) {
  ops::GatherParams params;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", 0));
  return Share(ops::Gather::Create(params));
}

// QuantizeLinear / DequantizeLinear: `axis` (opset 13+; default 1) picks the axis of a 1-D scale.
template <typename QuantizeOp>
OpResult CreateQuantize(const onnx::NodeProto& node, int64_t) {
  ops::QuantizeParams params;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", 1));
  return Share(QuantizeOp::Create(params));
}

OpResult CreateCast(const onnx::NodeProto& node, int64_t) {
  const onnx::AttributeProto* to_attribute = FindAttribute(node, "to");
  if (to_attribute == nullptr) return InvalidArgument("attribute 'to' is required");
  FOVEA_ASSIGN_OR_RETURN(int64_t to, IntAttribute(node, "to", 0));
  auto dtype = FromOnnxDataType(static_cast<int32_t>(to));
  if (!dtype.ok() || (*dtype != engine::DataType::kFloat32 && *dtype != engine::DataType::kInt64)) {
    return Unimplemented("cast to " + OnnxDataTypeName(static_cast<int32_t>(to)) +
                         " is not supported; supported: FLOAT, INT64");
  }
  ops::CastParams params;
  params.to = *dtype;
  return Share(ops::Cast::Create(params));
}

OpResult CreatePad(const onnx::NodeProto& node, int64_t opset) {
  FOVEA_ASSIGN_OR_RETURN(std::string mode, StringAttribute(node, "mode", "constant"));
  if (mode != "constant") return Unimplemented("mode '" + mode + "' is not supported; supported: constant");
  ops::PadParams params;
  if (opset < kPadsAsInputsOpset) {
    FOVEA_ASSIGN_OR_RETURN(params.pads, IntsAttribute(node, "pads"));
    FOVEA_ASSIGN_OR_RETURN(params.value, FloatAttribute(node, "value", 0.0f));
  } else if (node.input_size() > 3 && !node.input(3).empty()) {
    return Unimplemented("the axes input (opset 18) is not supported");
  }
  return Share(ops::Pad::Create(params));
}

// ONNX op type → factory. Constant has no factory: the importer folds it (see IsConstantNode).
const std::map<std::string, OpFactory, std::less<>>& OpTable() {
  using Act = ops::ActivationKind;
  using Kind = ops::BinaryParams::Kind;
  using VariadicKind = ops::VariadicParams::Kind;
  using SqueezeKind = ops::SqueezeParams::Kind;
  static const std::map<std::string, OpFactory, std::less<>> kTable = {
      {"Abs", CreateActivation<Act::kAbs>},
      {"Add", CreateBinary<Kind::kAdd>},
      {"And", CreateAnd},
      {"ArgMax", CreateArgMax},
      {"ArgMin", CreateArgMin},
      {"AveragePool", CreateAveragePool},
      {"BatchNormalization", CreateBatchNormalization},
      {"Cast", CreateCast},
      {"Ceil", CreateActivation<Act::kCeil>},
      {"Celu", CreateActivation<Act::kCelu>},
      {"Clip", CreateActivation<Act::kClip>},
      {"Concat", CreateConcat},
      {std::string(kConstantOp), nullptr},
      {"ConstantOfShape", CreateConstantOfShape},
      {"Conv", CreateConv},
      {"ConvTranspose", CreateConvTranspose},
      {"DepthToSpace", CreateDepthToSpace},
      {"DequantizeLinear", CreateQuantize<ops::DequantizeLinear>},
      {"Div", CreateBinary<Kind::kDiv>},
      {"Dropout", CreateDropout},
      {"Elu", CreateActivation<Act::kElu>},
      {"Equal", CreateEqual},
      {"Erf", CreateActivation<Act::kErf>},
      {"Exp", CreateActivation<Act::kExp>},
      {"Expand", CreateExpand},
      {"Flatten", CreateFlatten},
      {"Floor", CreateActivation<Act::kFloor>},
      {"Gather", CreateGather},
      {"Gemm", CreateGemm},
      {"GlobalAveragePool", CreateGlobalPool<ops::PoolParams::Kind::kAverage>},
      {"GlobalMaxPool", CreateGlobalPool<ops::PoolParams::Kind::kMax>},
      {"Greater", CreateGreater},
      {"GreaterOrEqual", CreateGreaterOrEqual},
      {"HardSigmoid", CreateActivation<Act::kHardSigmoid>},
      {"HardSwish", CreateActivation<Act::kHardSwish>},
      {"Identity", CreateIdentity},
      {"InstanceNormalization", CreateInstanceNormalization},
      {"LRN", CreateLrn},
      {"LayerNormalization", CreateLayerNormalization},
      {"LeakyRelu", CreateActivation<Act::kLeakyRelu>},
      {"Less", CreateLess},
      {"LessOrEqual", CreateLessOrEqual},
      {"Log", CreateActivation<Act::kLog>},
      {"LogSoftmax", CreateSoftmax<true>},
      {"MatMul", CreateMatMul},
      {"Max", CreateVariadic<VariadicKind::kMax>},
      {"MaxPool", CreateMaxPool},
      {"Mean", CreateVariadic<VariadicKind::kMean>},
      {"MeanVarianceNormalization", CreateMeanVarianceNormalization},
      {"Min", CreateVariadic<VariadicKind::kMin>},
      {"Mul", CreateBinary<Kind::kMul>},
      {"Neg", CreateActivation<Act::kNeg>},
      {"Not", CreateNot},
      {"Or", CreateOr},
      {"PRelu", CreatePRelu},
      {"Pad", CreatePad},
      {"Pow", CreateBinary<Kind::kPow>},
      {"QuantizeLinear", CreateQuantize<ops::QuantizeLinear>},
      {"Range", CreateRange},
      {"Reciprocal", CreateActivation<Act::kReciprocal>},
      {"ReduceL1", CreateReduceL1},
      {"ReduceL2", CreateReduceL2},
      {"ReduceLogSum", CreateReduceLogSum},
      {"ReduceLogSumExp", CreateReduceLogSumExp},
      {"ReduceMax", CreateReduceMax},
      {"ReduceMean", CreateReduceMean},
      {"ReduceMin", CreateReduceMin},
      {"ReduceProd", CreateReduceProd},
      {"ReduceSum", CreateReduceSum},
      {"ReduceSumSquare", CreateReduceSumSquare},
      {"Relu", CreateActivation<Act::kRelu>},
      {"Reshape", CreateReshape},
      {"Resize", CreateResize},
      {"Round", CreateActivation<Act::kRound>},
      {"Selu", CreateActivation<Act::kSelu>},
      {"Shape", CreateShape},
      {"Shrink", CreateActivation<Act::kShrink>},
      {"Sigmoid", CreateActivation<Act::kSigmoid>},
      {"Sign", CreateActivation<Act::kSign>},
      {"Slice", CreateSlice},
      {"Softmax", CreateSoftmax<false>},
      {"Softplus", CreateActivation<Act::kSoftplus>},
      {"Softsign", CreateActivation<Act::kSoftsign>},
      {"SpaceToDepth", CreateSpaceToDepth},
      {"Split", CreateSplit},
      {"Sqrt", CreateActivation<Act::kSqrt>},
      {"Squeeze", CreateSqueeze<SqueezeKind::kSqueeze>},
      {"Sub", CreateBinary<Kind::kSub>},
      {"Sum", CreateVariadic<VariadicKind::kSum>},
      {"Tanh", CreateActivation<Act::kTanh>},
      {"ThresholdedRelu", CreateActivation<Act::kThresholdedRelu>},
      {"Tile", CreateTile},
      {"Transpose", CreateTranspose},
      {"Unsqueeze", CreateSqueeze<SqueezeKind::kUnsqueeze>},
      {"Upsample", CreateUpsample},
      {"Where", CreateWhere},
      {"Xor", CreateXor},
  };
  return kTable;
}

bool IsDefaultDomain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

std::string JoinSupportedOps() {
  std::string joined;
  for (const auto& op : SupportedOps()) joined += (joined.empty() ? "" : ", ") + op;
  return joined;
}

}  // namespace

Status RequireUnusedOutput(const onnx::NodeProto& node, int index, const std::string& what) {
  if (!HasOutput(node, index)) return OkStatus();
  return Unimplemented("output " + std::to_string(index) + " ('" + node.output(index) + "', " + what +
                       ") is not supported; only the first output is computed");
}

std::string NodeLabel(const onnx::NodeProto& node) {
  const std::string op = IsDefaultDomain(node.domain()) ? node.op_type() : node.domain() + "::" + node.op_type();
  if (!node.name().empty()) return "node '" + node.name() + "' (" + op + ")";
  if (node.output_size() > 0) return "node producing '" + node.output(0) + "' (" + op + ")";
  return "unnamed node (" + op + ")";
}

StatusOr<std::shared_ptr<const engine::Op>> CreateOp(const onnx::NodeProto& node, int64_t opset) {
  if (!IsDefaultDomain(node.domain())) {
    return Unimplemented(NodeLabel(node) + ": unsupported op domain '" + node.domain() +
                         "'; only the default ONNX domain is supported");
  }
  const auto& table = OpTable();
  auto it = table.find(node.op_type());
  if (it == table.end()) {
    return Unimplemented(NodeLabel(node) + ": unsupported op; supported ops: " + JoinSupportedOps());
  }
  if (it->second == nullptr) return Internal(NodeLabel(node) + ": Constant nodes are folded by the importer");
  auto op = it->second(node, opset);
  if (!op.ok()) return op.status().WithContext(NodeLabel(node));
  return op;
}

bool IsConstantNode(const onnx::NodeProto& node) {
  return IsDefaultDomain(node.domain()) && node.op_type() == kConstantOp;
}

std::vector<std::string> SupportedOps() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : OpTable()) names.push_back(name);
  return names;
}

}  // namespace fovea::modelio
