#include "modelio/node_attributes.h"

#include <map>

namespace fovea::modelio {
namespace {

using onnx::AttributeProto;

std::string TypeName(AttributeProto::AttributeType type) {
  const std::string& name = AttributeProto::AttributeType_Name(type);
  return name.empty() ? "type " + std::to_string(static_cast<int>(type)) : name;
}

// The attribute `name` when present with `expected` type; nullptr when absent; an error for another type.
StatusOr<const AttributeProto*> TypedAttribute(const onnx::NodeProto& node, std::string_view name,
                                               AttributeProto::AttributeType expected) {
  const AttributeProto* attribute = FindAttribute(node, name);
  if (attribute == nullptr) return attribute;
  if (attribute->type() != expected) {
    return InvalidArgument("attribute '" + std::string(name) + "' must be " + TypeName(expected) + ", not " +
                           TypeName(attribute->type()));
  }
  return attribute;
}

StatusOr<engine::ops::AutoPad> ParseAutoPad(const std::string& text) {
  static const std::map<std::string, engine::ops::AutoPad, std::less<>> kAutoPads = {
      {"NOTSET", engine::ops::AutoPad::kNotSet},
      {"SAME_UPPER", engine::ops::AutoPad::kSameUpper},
      {"SAME_LOWER", engine::ops::AutoPad::kSameLower},
      {"VALID", engine::ops::AutoPad::kValid},
  };
  auto it = kAutoPads.find(text);
  if (it == kAutoPads.end()) {
    return Unimplemented("auto_pad '" + text + "' is not supported; supported: NOTSET, SAME_UPPER, SAME_LOWER, VALID");
  }
  return it->second;
}

}  // namespace

const AttributeProto* FindAttribute(const onnx::NodeProto& node, std::string_view name) {
  for (const auto& attribute : node.attribute()) {
    if (attribute.name() == name) return &attribute;
  }
  return nullptr;
}

StatusOr<int64_t> IntAttribute(const onnx::NodeProto& node, std::string_view name, int64_t fallback) {
  FOVEA_ASSIGN_OR_RETURN(const AttributeProto* attribute, TypedAttribute(node, name, AttributeProto::INT));
  return attribute == nullptr ? fallback : attribute->i();
}

StatusOr<float> FloatAttribute(const onnx::NodeProto& node, std::string_view name, float fallback) {
  FOVEA_ASSIGN_OR_RETURN(const AttributeProto* attribute, TypedAttribute(node, name, AttributeProto::FLOAT));
  return attribute == nullptr ? fallback : attribute->f();
}

StatusOr<std::string> StringAttribute(const onnx::NodeProto& node, std::string_view name, const std::string& fallback) {
  FOVEA_ASSIGN_OR_RETURN(const AttributeProto* attribute, TypedAttribute(node, name, AttributeProto::STRING));
  return attribute == nullptr ? fallback : attribute->s();
}

StatusOr<std::vector<int64_t>> IntsAttribute(const onnx::NodeProto& node, std::string_view name) {
  FOVEA_ASSIGN_OR_RETURN(const AttributeProto* attribute, TypedAttribute(node, name, AttributeProto::INTS));
  if (attribute == nullptr) return std::vector<int64_t>{};
  return std::vector<int64_t>(attribute->ints().begin(), attribute->ints().end());
}

StatusOr<engine::ops::WindowAttributes> WindowFromAttributes(const onnx::NodeProto& node, bool read_ceil_mode) {
  engine::ops::WindowAttributes window;
  FOVEA_ASSIGN_OR_RETURN(window.kernel, IntsAttribute(node, "kernel_shape"));
  FOVEA_ASSIGN_OR_RETURN(window.strides, IntsAttribute(node, "strides"));
  FOVEA_ASSIGN_OR_RETURN(window.dilations, IntsAttribute(node, "dilations"));
  FOVEA_ASSIGN_OR_RETURN(std::vector<int64_t> pads, IntsAttribute(node, "pads"));
  if (pads.size() % 2 != 0) {
    return InvalidArgument("attribute 'pads' has " + std::to_string(pads.size()) +
                           " entries; it needs a begin and an end per spatial axis");
  }
  const auto half = static_cast<std::ptrdiff_t>(pads.size() / 2);
  window.pads_begin.assign(pads.begin(), pads.begin() + half);
  window.pads_end.assign(pads.begin() + half, pads.end());
  FOVEA_ASSIGN_OR_RETURN(std::string auto_pad, StringAttribute(node, "auto_pad", "NOTSET"));
  FOVEA_ASSIGN_OR_RETURN(window.auto_pad, ParseAutoPad(auto_pad));
  if (read_ceil_mode) {
    FOVEA_ASSIGN_OR_RETURN(int64_t ceil_mode, IntAttribute(node, "ceil_mode", 0));
    window.ceil_mode = ceil_mode != 0;
  }
  return window;
}

bool HasOutput(const onnx::NodeProto& node, int index) {
  return index < node.output_size() && !node.output(index).empty();
}

}  // namespace fovea::modelio
