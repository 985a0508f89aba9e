#include "modelio/op_table.h"

#include <algorithm>
#include <limits>
#include <map>

#include "engine/ops/activation.h"
#include "engine/ops/batch_norm.h"
#include "engine/ops/binary.h"
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
#include "modelio/factories/layout.h"
#include "modelio/node_attributes.h"
#include "modelio/op_factory.h"
#include "modelio/tensor_proto.h"

namespace fovea::modelio {
namespace {

namespace ops = engine::ops;
constexpr std::string_view kConstantOp = "Constant";
// Opsets at which ONNX moved an attribute into an input or changed a default.
constexpr int64_t kClipBoundsAsInputsOpset = 11;
constexpr int64_t kSoftmaxAxisOpset = 13;
constexpr int64_t kPadsAsInputsOpset = 11;
constexpr int64_t kSqueezeAxesAsInputOpset = 13;
constexpr int64_t kLegacySoftmaxAxis = 1;
constexpr float kDefaultLeakyReluAlpha = 0.01f;
constexpr float kDefaultBatchNormEpsilon = 1e-5f;

OpResult MakeActivation(ops::ActivationKind kind, float alpha = 0.0f, float beta = 0.0f) {
  ops::ActivationParams params;
  params.kind = kind;
  params.alpha = alpha;
  params.beta = beta;
  return Share(ops::Activation::Create(params));
}

OpResult CreateRelu(const onnx::NodeProto&, int64_t) { return MakeActivation(ops::ActivationKind::kRelu); }

OpResult CreateSigmoid(const onnx::NodeProto&, int64_t) { return MakeActivation(ops::ActivationKind::kSigmoid); }

OpResult CreateLeakyRelu(const onnx::NodeProto& node, int64_t) {
  FOVEA_ASSIGN_OR_RETURN(float alpha, FloatAttribute(node, "alpha", kDefaultLeakyReluAlpha));
  return MakeActivation(ops::ActivationKind::kLeakyRelu, alpha);
}

OpResult CreateClip(const onnx::NodeProto& node, int64_t opset) {
  ops::ActivationParams params;
  params.kind = ops::ActivationKind::kClip;
  params.alpha = std::numeric_limits<float>::lowest();
  params.beta = std::numeric_limits<float>::max();
  // Before opset 11 the bounds are attributes; afterwards they are optional inputs the engine resolves.
  if (opset < kClipBoundsAsInputsOpset) {
    FOVEA_ASSIGN_OR_RETURN(params.alpha, FloatAttribute(node, "min", params.alpha));
    FOVEA_ASSIGN_OR_RETURN(params.beta, FloatAttribute(node, "max", params.beta));
  }
  return MakeActivation(params.kind, params.alpha, params.beta);
}

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

OpResult CreateBatchNormalization(const onnx::NodeProto& node, int64_t) {
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

template <ops::BinaryParams::Kind kKind>
OpResult CreateBinary(const onnx::NodeProto&, int64_t) {
  ops::BinaryParams params;
  params.kind = kKind;
  return Share(ops::Binary::Create(params));
}

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
  using Kind = ops::BinaryParams::Kind;
  using SqueezeKind = ops::SqueezeParams::Kind;
  static const std::map<std::string, OpFactory, std::less<>> kTable = {
      {"Add", CreateBinary<Kind::kAdd>},
      {"And", CreateAnd},
      {"AveragePool", CreateAveragePool},
      {"BatchNormalization", CreateBatchNormalization},
      {"Cast", CreateCast},
      {"Clip", CreateClip},
      {"Concat", CreateConcat},
      {std::string(kConstantOp), nullptr},
      {"ConstantOfShape", CreateConstantOfShape},
      {"Conv", CreateConv},
      {"DepthToSpace", CreateDepthToSpace},
      {"Div", CreateBinary<Kind::kDiv>},
      {"DequantizeLinear", CreateQuantize<ops::DequantizeLinear>},
      {"Dropout", CreateDropout},
      {"Equal", CreateEqual},
      {"Expand", CreateExpand},
      {"Flatten", CreateFlatten},
      {"Gather", CreateGather},
      {"Gemm", CreateGemm},
      {"GlobalAveragePool", CreateGlobalPool<ops::PoolParams::Kind::kAverage>},
      {"GlobalMaxPool", CreateGlobalPool<ops::PoolParams::Kind::kMax>},
      {"Greater", CreateGreater},
      {"GreaterOrEqual", CreateGreaterOrEqual},
      {"Identity", CreateIdentity},
      {"LeakyRelu", CreateLeakyRelu},
      {"Less", CreateLess},
      {"LessOrEqual", CreateLessOrEqual},
      {"LogSoftmax", CreateSoftmax<true>},
      {"MatMul", CreateMatMul},
      {"MaxPool", CreateMaxPool},
      {"Mul", CreateBinary<Kind::kMul>},
      {"Not", CreateNot},
      {"Or", CreateOr},
      {"Pad", CreatePad},
      {"QuantizeLinear", CreateQuantize<ops::QuantizeLinear>},
      {"Range", CreateRange},
      {"Relu", CreateRelu},
      {"Reshape", CreateReshape},
      {"Shape", CreateShape},
      {"Sigmoid", CreateSigmoid},
      {"Slice", CreateSlice},
      {"Softmax", CreateSoftmax<false>},
      {"SpaceToDepth", CreateSpaceToDepth},
      {"Split", CreateSplit},
      {"Squeeze", CreateSqueeze<SqueezeKind::kSqueeze>},
      {"Sub", CreateBinary<Kind::kSub>},
      {"Tile", CreateTile},
      {"Transpose", CreateTranspose},
      {"Unsqueeze", CreateSqueeze<SqueezeKind::kUnsqueeze>},
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
