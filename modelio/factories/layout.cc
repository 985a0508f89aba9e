#include "modelio/factories/layout.h"

#include "engine/ops/compare.h"
#include "engine/ops/constant_of_shape.h"
#include "engine/ops/depth_to_space.h"
#include "engine/ops/expand.h"
#include "engine/ops/logical.h"
#include "engine/ops/range.h"
#include "engine/ops/slice.h"
#include "engine/ops/split.h"
#include "engine/ops/tile.h"
#include "engine/ops/transpose.h"
#include "engine/ops/where.h"
#include "modelio/tensor_proto.h"

namespace fovea::modelio {
namespace {

namespace ops = engine::ops;
// Opsets at which ONNX moved an attribute into an input or added one.
constexpr int64_t kSliceRangesAsInputsOpset = 10;
constexpr int64_t kSplitLengthsAsInputOpset = 13;
constexpr int64_t kDepthToSpaceModeOpset = 11;
// ConstantOfShape's value holds one element; a larger limit would only let a hostile file allocate.
constexpr int64_t kMaxConstantValueElements = 1;

StatusOr<int64_t> RequiredIntAttribute(const onnx::NodeProto& node, std::string_view name) {
  if (FindAttribute(node, name) == nullptr) return InvalidArgument("attribute '" + std::string(name) + "' is required");
  return IntAttribute(node, name, 0);
}

OpResult MakeCompare(ops::CompareParams::Kind kind) { return Share(ops::Compare::Create({kind})); }
OpResult MakeLogical(ops::LogicalParams::Kind kind) { return Share(ops::Logical::Create({kind})); }

OpResult MakeDepthToSpace(const onnx::NodeProto& node, ops::DepthToSpaceParams params) {
  FOVEA_ASSIGN_OR_RETURN(params.blocksize, RequiredIntAttribute(node, "blocksize"));
  return Share(ops::DepthToSpace::Create(params));
}

}  // namespace

OpResult CreateTranspose(const onnx::NodeProto& node, int64_t) {
  ops::TransposeParams params;
  FOVEA_ASSIGN_OR_RETURN(params.perm, IntsAttribute(node, "perm"));
  return Share(ops::Transpose::Create(params));
}

OpResult CreateSlice(const onnx::NodeProto& node, int64_t opset) {
  ops::SliceParams params;
  params.ranges_from_inputs = opset >= kSliceRangesAsInputsOpset;
  if (!params.ranges_from_inputs) {
    if (FindAttribute(node, "starts") == nullptr || FindAttribute(node, "ends") == nullptr) {
      return InvalidArgument("attributes 'starts' and 'ends' are required before opset 10");
    }
    FOVEA_ASSIGN_OR_RETURN(params.starts, IntsAttribute(node, "starts"));
    FOVEA_ASSIGN_OR_RETURN(params.ends, IntsAttribute(node, "ends"));
    FOVEA_ASSIGN_OR_RETURN(params.axes, IntsAttribute(node, "axes"));
  }
  return Share(ops::Slice::Create(params));
}

OpResult CreateSplit(const onnx::NodeProto& node, int64_t opset) {
  ops::SplitParams params;
  FOVEA_ASSIGN_OR_RETURN(params.axis, IntAttribute(node, "axis", 0));
  params.num_outputs = node.output_size();
  if (opset < kSplitLengthsAsInputOpset) {
    FOVEA_ASSIGN_OR_RETURN(params.split, IntsAttribute(node, "split"));
  }
  return Share(ops::Split::Create(params));
}

OpResult CreateExpand(const onnx::NodeProto&, int64_t) { return Share(ops::Expand::Create()); }

OpResult CreateTile(const onnx::NodeProto&, int64_t) { return Share(ops::Tile::Create()); }

OpResult CreateDepthToSpace(const onnx::NodeProto& node, int64_t opset) {
  ops::DepthToSpaceParams params;
  params.kind = ops::DepthToSpaceParams::Kind::kDepthToSpace;
  if (opset >= kDepthToSpaceModeOpset) {
    FOVEA_ASSIGN_OR_RETURN(std::string mode, StringAttribute(node, "mode", "DCR"));
    if (mode != "DCR" && mode != "CRD") return InvalidArgument("mode '" + mode + "' is not DCR or CRD");
    params.mode = mode == "DCR" ? ops::DepthToSpaceParams::Mode::kDcr : ops::DepthToSpaceParams::Mode::kCrd;
  }
  return MakeDepthToSpace(node, params);
}

OpResult CreateSpaceToDepth(const onnx::NodeProto& node, int64_t) {
  ops::DepthToSpaceParams params;
  params.kind = ops::DepthToSpaceParams::Kind::kSpaceToDepth;
  return MakeDepthToSpace(node, params);
}

OpResult CreateConstantOfShape(const onnx::NodeProto& node, int64_t) {
  ops::ConstantOfShapeParams params;
  if (const onnx::AttributeProto* value = FindAttribute(node, "value")) {
    if (value->type() != onnx::AttributeProto::TENSOR) return InvalidArgument("attribute 'value' must be a tensor");
    auto tensor = TensorFromProto(value->t(), kMaxConstantValueElements);
    if (!tensor.ok()) return tensor.status().WithContext("attribute 'value'");
    params.value = *tensor;
  }
  return Share(ops::ConstantOfShape::Create(params));
}

OpResult CreateRange(const onnx::NodeProto&, int64_t) { return Share(ops::Range::Create()); }
OpResult CreateWhere(const onnx::NodeProto&, int64_t) { return Share(ops::Where::Create()); }

OpResult CreateEqual(const onnx::NodeProto&, int64_t) { return MakeCompare(ops::CompareParams::Kind::kEqual); }
OpResult CreateLess(const onnx::NodeProto&, int64_t) { return MakeCompare(ops::CompareParams::Kind::kLess); }
OpResult CreateLessOrEqual(const onnx::NodeProto&, int64_t) {
  return MakeCompare(ops::CompareParams::Kind::kLessOrEqual);
}
OpResult CreateGreater(const onnx::NodeProto&, int64_t) { return MakeCompare(ops::CompareParams::Kind::kGreater); }
OpResult CreateGreaterOrEqual(const onnx::NodeProto&, int64_t) {
  return MakeCompare(ops::CompareParams::Kind::kGreaterOrEqual);
}

OpResult CreateNot(const onnx::NodeProto&, int64_t) { return MakeLogical(ops::LogicalParams::Kind::kNot); }
OpResult CreateAnd(const onnx::NodeProto&, int64_t) { return MakeLogical(ops::LogicalParams::Kind::kAnd); }
OpResult CreateOr(const onnx::NodeProto&, int64_t) { return MakeLogical(ops::LogicalParams::Kind::kOr); }
OpResult CreateXor(const onnx::NodeProto&, int64_t) { return MakeLogical(ops::LogicalParams::Kind::kXor); }

}  // namespace fovea::modelio
