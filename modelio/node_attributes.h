#pragma once
// Typed access to an onnx::NodeProto's attributes for the op table. Each reader checks the attribute's type and
// returns the fallback when the attribute is absent; messages name the attribute, and callers add the node.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <onnx/onnx_pb.h>

#include "common/status.h"
#include "engine/ops/spatial.h"

namespace fovea::modelio {

// The attribute called `name`, or nullptr. The pointer is into `node`.
const onnx::AttributeProto* FindAttribute(const onnx::NodeProto& node, std::string_view name);

StatusOr<int64_t> IntAttribute(const onnx::NodeProto& node, std::string_view name, int64_t fallback);
StatusOr<float> FloatAttribute(const onnx::NodeProto& node, std::string_view name, float fallback);
StatusOr<std::string> StringAttribute(const onnx::NodeProto& node, std::string_view name, const std::string& fallback);
// An INTS attribute; empty when absent.
StatusOr<std::vector<int64_t>> IntsAttribute(const onnx::NodeProto& node, std::string_view name);

// Conv/pool window attributes: kernel_shape, strides, dilations, pads ([begin..., end...]), auto_pad and, when
// `read_ceil_mode`, ceil_mode. Unknown auto_pad values and odd-length pads are errors.
StatusOr<engine::ops::WindowAttributes> WindowFromAttributes(const onnx::NodeProto& node, bool read_ceil_mode);

// True when output `index` of `node` exists and is used (ONNX marks an unused optional output with "").
bool HasOutput(const onnx::NodeProto& node, int index);

}  // namespace fovea::modelio
