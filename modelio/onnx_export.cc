#include "modelio/onnx_export.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "modelio/metadata.h"
#include "modelio/tensor_proto.h"

namespace fovea::modelio {
namespace {

constexpr int64_t kIrVersion = 7;  // ONNX IR version of opset 13 (ONNX 1.8)
constexpr char kDynamicBatch[] = "N";

std::string JoinFloats(const std::vector<float>& values) {
  std::ostringstream out;
  out.precision(9);
  for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
  return out.str();
}

void SetAttribute(const ExportAttribute& attribute, onnx::AttributeProto& proto) {
  proto.set_name(attribute.name);
  if (const auto* i = std::get_if<int64_t>(&attribute.value)) {
    proto.set_type(onnx::AttributeProto::INT);
    proto.set_i(*i);
  } else if (const auto* f = std::get_if<float>(&attribute.value)) {
    proto.set_type(onnx::AttributeProto::FLOAT);
    proto.set_f(*f);
  } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&attribute.value)) {
    proto.set_type(onnx::AttributeProto::INTS);
    for (const int64_t v : *ints) proto.add_ints(v);
  } else if (const auto* floats = std::get_if<std::vector<float>>(&attribute.value)) {
    proto.set_type(onnx::AttributeProto::FLOATS);
    for (const float v : *floats) proto.add_floats(v);
  } else {
    proto.set_type(onnx::AttributeProto::STRING);
    proto.set_s(std::get<std::string>(attribute.value));
  }
}

void SetValueInfo(const engine::ValueInfo& info, onnx::ValueInfoProto& proto) {
  proto.set_name(info.name);
  auto* tensor_type = proto.mutable_type()->mutable_tensor_type();
  tensor_type->set_elem_type(ToOnnxDataType(info.dtype));
  auto* shape = tensor_type->mutable_shape();
  for (const int64_t d : info.shape) {
    auto* dim = shape->add_dim();
    if (d < 0) {
      dim->set_dim_param(kDynamicBatch);
    } else {
      dim->set_dim_value(d);
    }
  }
}

onnx::ModelProto BuildModel(const ExportGraph& graph, const engine::ModelMetadata& metadata,
                            const ExportOptions& options) {
  onnx::ModelProto model;
  model.set_ir_version(kIrVersion);
  model.set_producer_name(options.producer_name);
  model.set_producer_version(options.producer_version);
  model.set_doc_string(options.doc_string);
  auto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  for (const auto& [key, value] : MetadataEntriesFor(metadata)) {
    auto* entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  auto* g = model.mutable_graph();
  g->set_name(graph.name);
  for (const auto& input : graph.inputs) SetValueInfo(input, *g->add_input());
  for (const auto& output : graph.outputs) SetValueInfo(output, *g->add_output());
  for (const auto& [name, tensor] : graph.initializers) *g->add_initializer() = TensorToProto(tensor, name);
  for (const auto& node : graph.nodes) {
    auto* proto = g->add_node();
    proto->set_op_type(node.op_type);
    proto->set_name(node.name);
    for (const auto& in : node.inputs) proto->add_input(in);
    for (const auto& out : node.outputs) proto->add_output(out);
    for (const auto& attribute : node.attributes) SetAttribute(attribute, *proto->add_attribute());
  }
  return model;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> MetadataEntriesFor(const engine::ModelMetadata& metadata) {
  std::vector<std::pair<std::string, std::string>> entries;
  if (!metadata.labels.empty()) {
    std::string labels;
    for (const auto& label : metadata.labels) labels += label + "\n";
    entries.emplace_back(kLabelsKey, labels);
  }
  entries.emplace_back(kInputLayoutKey, metadata.input_layout);
  if (metadata.input_channels > 0) entries.emplace_back(kInputChannelsKey, std::to_string(metadata.input_channels));
  if (metadata.input_height > 0) entries.emplace_back(kInputHeightKey, std::to_string(metadata.input_height));
  if (metadata.input_width > 0) entries.emplace_back(kInputWidthKey, std::to_string(metadata.input_width));
  if (!metadata.mean.empty()) entries.emplace_back(kInputMeanKey, JoinFloats(metadata.mean));
  if (!metadata.std.empty()) entries.emplace_back(kInputStdKey, JoinFloats(metadata.std));
  if (metadata.background_class >= 0) {
    entries.emplace_back(kBackgroundClassKey, std::to_string(metadata.background_class));
  }
  for (const auto& [key, value] : metadata.properties) entries.emplace_back(key, value);
  return entries;
}

StatusOr<std::string> ExportOnnx(const ExportGraph& graph, const engine::ModelMetadata& metadata,
                                 const ExportOptions& options) {
  onnx::ModelProto model = BuildModel(graph, metadata, options);
  return CheckAndSerialize(model);
}

StatusOr<std::string> CheckAndSerialize(onnx::ModelProto& model, bool infer_shapes) {
  try {
    onnx::checker::check_model(model);
    // Strict shape inference runs every op's shape function too, which the structural checker does not.
    if (infer_shapes) {
      onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(),
                                         onnx::ShapeInferenceOptions{true, 1, false});
    }
  } catch (const std::exception& e) {
    return Internal(std::string("exported model fails the ONNX checker: ") + e.what());
  }
  std::string bytes;
  if (!model.SerializeToString(&bytes)) return Internal("cannot serialize the exported ONNX model");
  return bytes;
}

Status WriteOnnxFile(const std::string& path, const ExportGraph& graph, const engine::ModelMetadata& metadata,
                     const ExportOptions& options) {
  FOVEA_ASSIGN_OR_RETURN(std::string bytes, ExportOnnx(graph, metadata, options));
  return WriteFileAtomically(path, bytes);
}

Status WriteFileAtomically(const std::string& path, const std::string& bytes) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return Internal(temporary + ": cannot write the ONNX model");
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) return Internal(path + ": cannot replace the ONNX model");
  return OkStatus();
}

}  // namespace fovea::modelio
