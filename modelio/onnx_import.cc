#include "modelio/onnx_import.h"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <set>

#include <google/protobuf/io/coded_stream.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include "modelio/metadata.h"
#include "modelio/node_attributes.h"
#include "modelio/op_table.h"
#include "modelio/tensor_proto.h"

namespace fovea::modelio {
namespace {

using engine::Graph;
using engine::Tensor;

StatusOr<onnx::ModelProto> ParseModelProto(std::string_view bytes, const ImportLimits& limits) {
  if (bytes.size() > limits.max_file_bytes || bytes.size() > static_cast<size_t>(INT_MAX)) {
    return ResourceExhausted("model is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                             std::to_string(std::min<size_t>(limits.max_file_bytes, INT_MAX)) + " bytes");
  }
  if (bytes.empty()) return InvalidArgument("model file is empty");
  google::protobuf::io::CodedInputStream stream(reinterpret_cast<const uint8_t*>(bytes.data()),
                                                static_cast<int>(bytes.size()));
  // The default protobuf limit can be below our own; the size was checked above.
  stream.SetTotalBytesLimit(static_cast<int>(bytes.size()));
  onnx::ModelProto model;
  if (!model.ParseFromCodedStream(&stream) || !stream.ConsumedEntireMessage()) {
    return InvalidArgument("not an ONNX model: the protobuf does not parse (truncated or corrupt file)");
  }
  return model;
}

// Checks the limits that need no allocation (node count, initializer dims) before anything else reads the graph:
// the ONNX checker's own element counts overflow on hostile dims.
Status CheckGraphLimits(const onnx::GraphProto& graph, const ImportLimits& limits) {
  if (graph.node_size() > limits.max_nodes) {
    return ResourceExhausted("the graph has " + std::to_string(graph.node_size()) + " nodes, over the limit of " +
                             std::to_string(limits.max_nodes));
  }
  auto check_dims = [&](const onnx::TensorProto& tensor, const std::string& what) {
    const engine::Shape dims(tensor.dims().begin(), tensor.dims().end());
    return CheckedElementCount(dims, limits.max_tensor_elements, what).status();
  };
  for (const auto& initializer : graph.initializer()) {
    FOVEA_RETURN_IF_ERROR(check_dims(initializer, "tensor '" + initializer.name() + "'"));
  }
  for (const auto& node : graph.node()) {
    for (const auto& attribute : node.attribute()) {
      if (!attribute.has_t()) continue;
      FOVEA_RETURN_IF_ERROR(check_dims(attribute.t(), NodeLabel(node) + ": attribute '" + attribute.name() + "'"));
    }
  }
  return OkStatus();
}

Status RunChecker(const onnx::ModelProto& model) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("ONNX checker: ") + e.what());
  }
  return OkStatus();
}

StatusOr<int64_t> DefaultDomainOpset(const onnx::ModelProto& model) {
  for (const auto& import : model.opset_import()) {
    if (!import.domain().empty() && import.domain() != "ai.onnx") continue;
    if (import.version() < kMinSupportedOpset || import.version() > kMaxSupportedOpset) {
      return Unimplemented("model uses opset " + std::to_string(import.version()) +
                           " of the default ONNX domain; supported: opsets " + std::to_string(kMinSupportedOpset) +
                           " to " + std::to_string(kMaxSupportedOpset));
    }
    return import.version();
  }
  return InvalidArgument("model imports no opset of the default ONNX domain");
}

Status AddInitializer(Graph& graph, const std::string& name, Tensor tensor) {
  if (name.empty()) return InvalidArgument("an initializer has no name");
  if (!graph.initializers.emplace(name, std::move(tensor)).second) {
    return InvalidArgument("initializer '" + name + "' is defined twice");
  }
  return OkStatus();
}

Status ReadInitializers(const onnx::GraphProto& proto, const ImportLimits& limits, Graph& graph) {
  if (proto.sparse_initializer_size() > 0) return Unimplemented("sparse initializers are not supported");
  for (const auto& initializer : proto.initializer()) {
    FOVEA_ASSIGN_OR_RETURN(Tensor tensor, TensorFromProto(initializer, limits.max_tensor_elements));
    FOVEA_RETURN_IF_ERROR(AddInitializer(graph, initializer.name(), std::move(tensor)));
  }
  return OkStatus();
}

// The value of a Constant node, from whichever of its value attributes is set.
StatusOr<Tensor> ConstantValue(const onnx::NodeProto& node, const ImportLimits& limits) {
  if (node.attribute_size() != 1) return InvalidArgument("a Constant needs exactly one value attribute");
  const onnx::AttributeProto& value = node.attribute(0);
  const std::string& kind = value.name();
  if (kind == "value") return TensorFromProto(value.t(), limits.max_tensor_elements);
  const std::vector<float> floats(value.floats().begin(), value.floats().end());
  const std::vector<int64_t> ints(value.ints().begin(), value.ints().end());
  if (kind == "value_float") return Tensor::FromFloats({}, std::vector<float>{value.f()});
  if (kind == "value_floats") return Tensor::FromFloats({static_cast<int64_t>(floats.size())}, floats);
  if (kind == "value_int") return Tensor::FromInt64s({}, std::vector<int64_t>{value.i()});
  if (kind == "value_ints") return Tensor::FromInt64s({static_cast<int64_t>(ints.size())}, ints);
  return Unimplemented("Constant attribute '" + kind +
                       "' is not supported; supported: value (FLOAT or INT64), value_float(s), value_int(s)");
}

// The engine's view of a graph input or output. `role` names it in messages ("input", "output").
StatusOr<engine::ValueInfo> ValueInfoFromProto(const onnx::ValueInfoProto& proto, const std::string& role) {
  const std::string what = "graph " + role + " '" + proto.name() + "'";
  if (!proto.type().has_tensor_type()) {
    return Unimplemented(what + " is not a tensor; sequences, maps and optionals are not supported");
  }
  const auto& tensor_type = proto.type().tensor_type();
  const int32_t elem_type = tensor_type.elem_type();
  engine::ValueInfo info;
  info.name = proto.name();
  const bool float_only = role == "input";
  auto dtype = FromOnnxDataType(elem_type);
  if (!dtype.ok() || (float_only && *dtype != engine::DataType::kFloat32)) {
    return Unimplemented(what + " is " + OnnxDataTypeName(elem_type) + "; supported: FLOAT" +
                         (float_only ? " (runtime inputs are float32 only)" : ", INT64, UINT8, INT8"));
  }
  info.dtype = *dtype;
  if (!tensor_type.has_shape()) {
    if (float_only) return InvalidArgument(what + " has no shape; Fovea needs at least its rank");
    return info;
  }
  for (const auto& dim : tensor_type.shape().dim()) {
    if (dim.has_dim_value() && dim.dim_value() < 0) {
      return InvalidArgument(what + " has a negative dimension " + std::to_string(dim.dim_value()));
    }
    // A named (dim_param) or missing dimension accepts any size.
    info.shape.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
  }
  return info;
}

Status ReadInputsAndOutputs(const onnx::GraphProto& proto, Graph& graph) {
  for (const auto& input : proto.input()) {
    // Older exporters list weights as graph inputs too; their initializer makes them constants, not inputs.
    if (graph.initializers.contains(input.name())) continue;
    FOVEA_ASSIGN_OR_RETURN(engine::ValueInfo info, ValueInfoFromProto(input, "input"));
    graph.inputs.push_back(std::move(info));
  }
  for (const auto& output : proto.output()) {
    FOVEA_ASSIGN_OR_RETURN(engine::ValueInfo info, ValueInfoFromProto(output, "output"));
    graph.outputs.push_back(std::move(info));
  }
  if (graph.outputs.empty()) return InvalidArgument("the graph has no outputs");
  return OkStatus();
}

// A name for node `index` that is unique in the graph (passes derive initializer names from node names).
std::string UniqueNodeName(const onnx::NodeProto& node, int index, std::set<std::string>& used) {
  std::string name = node.name();
  if (name.empty()) name = node.op_type() + "_" + std::to_string(index);
  if (used.contains(name)) name.append("#").append(std::to_string(index));
  used.insert(name);
  return name;
}

Status ReadNodes(const onnx::GraphProto& proto, int64_t opset, const ImportLimits& limits, Graph& graph) {
  std::set<std::string> used_names;
  for (int i = 0; i < proto.node_size(); ++i) {
    const onnx::NodeProto& node = proto.node(i);
    if (IsConstantNode(node)) {
      if (node.output_size() != 1) return InvalidArgument(NodeLabel(node) + ": a Constant has exactly one output");
      auto value = ConstantValue(node, limits);
      if (!value.ok()) return value.status().WithContext(NodeLabel(node));
      FOVEA_RETURN_IF_ERROR(AddInitializer(graph, node.output(0), std::move(value).value()));
      continue;
    }
    FOVEA_ASSIGN_OR_RETURN(std::shared_ptr<const engine::Op> op, CreateOp(node, opset));
    engine::Node imported;
    imported.name = UniqueNodeName(node, i, used_names);
    imported.op = std::move(op);
    imported.inputs.assign(node.input().begin(), node.input().end());
    imported.outputs.assign(node.output().begin(), node.output().end());
    graph.nodes.push_back(std::move(imported));
  }
  return OkStatus();
}

// 8-bit tensors (uint8/int8 initializers, QuantizeLinear results) exist for quantization only: Fovea's other ops
// compute in float32, so any other reader is refused here rather than misreading the bytes.
Status CheckQuantizedUses(const Graph& graph) {
  std::set<std::string> quantized;
  for (const auto& [name, tensor] : graph.initializers) {
    if (tensor.dtype() == engine::DataType::kUint8 || tensor.dtype() == engine::DataType::kInt8) quantized.insert(name);
  }
  for (const auto& node : graph.nodes) {
    const std::optional<engine::QuantizationStep> step = node.op->AsQuantizationStep();
    for (size_t j = 0; j < node.inputs.size(); ++j) {
      if (!quantized.contains(node.inputs[j])) continue;
      // A DequantizeLinear reads 8-bit data and zero point (not its scale); a QuantizeLinear only its zero point.
      const bool reads_quantized = step && (step->quantize ? j == 2 : j != 1);
      if (!reads_quantized) {
        return Unimplemented("node '" + node.name + "' (" + std::string(node.op->type()) +
                             ") reads the 8-bit tensor '" + node.inputs[j] +
                             "'; 8-bit tensors are supported only as QuantizeLinear/DequantizeLinear "
                             "data and zero points");
      }
    }
    if (step && step->quantize) quantized.insert(node.outputs.begin(), node.outputs.end());
  }
  return OkStatus();
}

StatusOr<engine::ModelMetadata> ReadMetadata(const onnx::ModelProto& model, const Graph& graph,
                                             const MetadataOverrides& overrides) {
  MetadataEntries entries;
  for (const auto& entry : model.metadata_props()) {
    const bool overridden = std::any_of(overrides.begin(), overrides.end(),
                                        [&entry](const auto& override) { return override.first == entry.key(); });
    if (!overridden) entries.emplace_back(entry.key(), entry.value());
  }
  entries.insert(entries.end(), overrides.begin(), overrides.end());
  const engine::ValueInfo* image_input = graph.inputs.empty() ? nullptr : &graph.inputs.front();
  const engine::ValueInfo* class_output = graph.outputs.empty() ? nullptr : &graph.outputs.front();
  return ParseMetadata(entries, image_input, class_output);
}

}  // namespace

StatusOr<ImportedModel> ImportOnnx(std::string_view bytes, const ImportLimits& limits,
                                   const MetadataOverrides& overrides) {
  FOVEA_ASSIGN_OR_RETURN(onnx::ModelProto model, ParseModelProto(bytes, limits));
  FOVEA_RETURN_IF_ERROR(CheckGraphLimits(model.graph(), limits));
  ImportedModel imported;
  // Before the checker, so that a model from a newer ONNX gets our message rather than the checker's.
  FOVEA_ASSIGN_OR_RETURN(imported.opset, DefaultDomainOpset(model));
  FOVEA_RETURN_IF_ERROR(RunChecker(model));
  const onnx::GraphProto& graph = model.graph();
  FOVEA_RETURN_IF_ERROR(ReadInitializers(graph, limits, imported.graph));
  FOVEA_RETURN_IF_ERROR(ReadNodes(graph, imported.opset, limits, imported.graph));
  FOVEA_RETURN_IF_ERROR(CheckQuantizedUses(imported.graph));
  FOVEA_RETURN_IF_ERROR(ReadInputsAndOutputs(graph, imported.graph));
  FOVEA_RETURN_IF_ERROR(engine::ValidateGraph(imported.graph));
  FOVEA_ASSIGN_OR_RETURN(imported.metadata, ReadMetadata(model, imported.graph, overrides));
  return imported;
}

StatusOr<std::shared_ptr<const engine::Model>> LoadOnnxModel(const std::string& path,
                                                             const engine::ModelOptions& options,
                                                             const ImportLimits& limits,
                                                             const MetadataOverrides& overrides) {
  const std::string what = "model '" + path + "'";
  std::error_code error;
  const auto size = std::filesystem::file_size(path, error);
  if (error) return NotFound(what + ": " + error.message());
  // Checked before reading so that an oversized file is never loaded into memory.
  if (size > limits.max_file_bytes) {
    return ResourceExhausted(what + " is " + std::to_string(size) + " bytes, over the limit of " +
                             std::to_string(limits.max_file_bytes));
  }
  std::ifstream file(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!file.read(bytes.data(), static_cast<std::streamsize>(size))) return DataLoss(what + ": cannot read the file");
  auto imported = ImportOnnx(bytes, limits, overrides);
  if (!imported.ok()) return imported.status().WithContext(what);
  auto model = engine::Model::Create(std::move(imported->graph), std::move(imported->metadata), options);
  if (!model.ok()) return model.status().WithContext(what);
  return model;
}

}  // namespace fovea::modelio
