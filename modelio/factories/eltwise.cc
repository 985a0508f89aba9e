#include "modelio/factories/eltwise.h"

#include <string_view>

#include "engine/ops/activation.h"
#include "engine/ops/prelu.h"

namespace fovea::modelio {
namespace {

namespace ops = engine::ops;
using Kind = ops::ActivationKind;

// Before opset 11 Clip's bounds are attributes; afterwards they are optional inputs the engine resolves.
constexpr int64_t kClipBoundsAsInputsOpset = 11;

// The ONNX attributes holding an activation's alpha and beta (empty: the kind has none).
struct AttributeNames {
  std::string_view alpha;
  std::string_view beta;
};

AttributeNames AttributesOf(Kind kind) {
  switch (kind) {
    case Kind::kLeakyRelu:
    case Kind::kElu:
    case Kind::kCelu:
    case Kind::kThresholdedRelu:
      return {"alpha", ""};
    case Kind::kHardSigmoid:
      return {"alpha", "beta"};
    case Kind::kSelu:
      return {"alpha", "gamma"};
    case Kind::kShrink:
      return {"lambd", "bias"};
    default:
      return {};
  }
}

}  // namespace

OpResult CreateActivationOfKind(Kind kind, const onnx::NodeProto& node, int64_t opset) {
  ops::ActivationParams params = ops::DefaultActivationParams(kind);
  AttributeNames names = AttributesOf(kind);
  if (kind == Kind::kClip && opset < kClipBoundsAsInputsOpset) names = {"min", "max"};
  if (!names.alpha.empty()) {
    FOVEA_ASSIGN_OR_RETURN(params.alpha, FloatAttribute(node, names.alpha, params.alpha));
  }
  if (!names.beta.empty()) {
    FOVEA_ASSIGN_OR_RETURN(params.beta, FloatAttribute(node, names.beta, params.beta));
  }
  return Share(ops::Activation::Create(params));
}

OpResult CreateBinaryOfKind(ops::BinaryParams::Kind kind, const onnx::NodeProto& node, int64_t opset) {
  // Before opset 7, `broadcast` = 1 aligned B with A's trailing axes (numpy's rule) or, with `axis`, from that axis on.
  constexpr int64_t kNumpyBroadcastOpset = 7;
  if (opset < kNumpyBroadcastOpset && FindAttribute(node, "axis") != nullptr) {
    return Unimplemented(
        "legacy broadcasting with an 'axis' attribute (opset < 7) is not supported; export at opset 7 "
        "or later");
  }
  return Share(ops::Binary::Create({kind}));
}

OpResult CreateVariadicOfKind(ops::VariadicParams::Kind kind, const onnx::NodeProto& node, int64_t) {
  if (node.input_size() < 1) return InvalidArgument(std::string(ops::VariadicName(kind)) + " needs at least one input");
  return Share(ops::Variadic::Create({kind}));
}

OpResult CreatePRelu(const onnx::NodeProto&, int64_t opset) {
  // Opset 6 applied a 1-D slope per channel (axis 1); opset 7 broadcasts it numpy-style from the last axis.
  constexpr int64_t kUnidirectionalBroadcastOpset = 7;
  if (opset < kUnidirectionalBroadcastOpset) {
    return Unimplemented("PRelu before opset 7 (a 1-D slope per channel) is not supported; export at opset 7 or later");
  }
  return Share(ops::PRelu::Create());
}

}  // namespace fovea::modelio
