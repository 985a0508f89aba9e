#include "modelio/qdq_writer.h"

#include <algorithm>
#include <set>

#include <onnx/onnx_pb.h>

#include "modelio/onnx_export.h"
#include "modelio/tensor_proto.h"

namespace fovea::modelio {
namespace {

constexpr int64_t kPerAxisQdqOpset = 13;

using engine::DataType;
using engine::Tensor;

int FindNode(const onnx::GraphProto& graph, const std::string& name, const std::string& op_type) {
  for (int i = 0; i < graph.node_size(); ++i) {
    if (graph.node(i).name() == name && graph.node(i).op_type() == op_type) return i;
  }
  return -1;
}

onnx::NodeProto QdqNode(const std::string& op_type, const std::string& name, std::vector<std::string> inputs,
                        const std::string& output, int64_t axis) {
  onnx::NodeProto node;
  node.set_op_type(op_type);
  node.set_name(name);
  for (const auto& in : inputs) node.add_input(in);
  node.add_output(output);
  if (axis >= 0) {
    auto* attribute = node.add_attribute();
    attribute->set_name("axis");
    attribute->set_type(onnx::AttributeProto::INT);
    attribute->set_i(axis);
  }
  return node;
}

void AddInitializer(onnx::GraphProto& graph, const Tensor& tensor, const std::string& name) {
  *graph.add_initializer() = TensorToProto(tensor, name);
}

// Inserts `nodes` before node `index`.
void InsertNodes(onnx::GraphProto& graph, int index, const std::vector<onnx::NodeProto>& nodes) {
  std::vector<onnx::NodeProto> all(graph.node().begin(), graph.node().end());
  all.insert(all.begin() + index, nodes.begin(), nodes.end());
  graph.clear_node();
  for (auto& node : all) *graph.add_node() = std::move(node);
}

// Rewrites the Conv node named in `conv`: Q/DQ before its input, DQ of its int8 weights, the folded bias.
Status QuantizeConv(onnx::GraphProto& graph, const QdqConv& conv) {
  int index = FindNode(graph, conv.node, "Conv");
  if (index < 0) return NotFound("no Conv node named '" + conv.node + "'");
  if (!conv.folded_batch_norm.empty()) {
    const int bn = FindNode(graph, conv.folded_batch_norm, "BatchNormalization");
    if (bn < 0) return NotFound("no BatchNormalization node named '" + conv.folded_batch_norm + "'");
    graph.mutable_node(index)->set_output(0, graph.node(bn).output(0));
    graph.mutable_node()->DeleteSubrange(bn, 1);
    if (bn < index) --index;
  }
  const std::string& prefix = conv.node;
  Tensor input_scale = Tensor::FromFloats({}, std::span<const float>(&conv.input_scale, 1));
  AddInitializer(graph, input_scale, prefix + "/input_scale");
  AddInitializer(graph, Tensor(conv.input_type, {}), prefix + "/input_zero_point");
  const int64_t m = conv.weights.dim(0);
  AddInitializer(graph, conv.weights, prefix + "/weight_quantized");
  AddInitializer(graph, Tensor::FromFloats({m}, conv.weight_scales), prefix + "/weight_scale");
  AddInitializer(graph, Tensor(DataType::kInt8, {m}), prefix + "/weight_zero_point");
  AddInitializer(graph, conv.bias, prefix + "/bias");

  const std::string x = graph.node(index).input(0);
  const std::vector<onnx::NodeProto> inserted = {
      QdqNode("QuantizeLinear", prefix + "/input_quantize", {x, prefix + "/input_scale", prefix + "/input_zero_point"},
              prefix + "/input_quantized", -1),
      QdqNode("DequantizeLinear", prefix + "/input_dequantize",
              {prefix + "/input_quantized", prefix + "/input_scale", prefix + "/input_zero_point"},
              prefix + "/input_dequantized", -1),
      QdqNode("DequantizeLinear", prefix + "/weight_dequantize",
              {prefix + "/weight_quantized", prefix + "/weight_scale", prefix + "/weight_zero_point"},
              prefix + "/weight_dequantized", 0)};
  onnx::NodeProto* node = graph.mutable_node(index);
  node->set_input(0, prefix + "/input_dequantized");
  node->set_input(1, prefix + "/weight_dequantized");
  if (node->input_size() > 2) {
    node->set_input(2, prefix + "/bias");
  } else {
    node->add_input(prefix + "/bias");
  }
  InsertNodes(graph, index, inserted);
  return OkStatus();
}

// Drops initializers (and their graph inputs, as IR < 4 files list them) that no node reads any more.
void RemoveUnusedInitializers(onnx::GraphProto& graph) {
  std::set<std::string> used;
  for (const auto& node : graph.node()) used.insert(node.input().begin(), node.input().end());
  for (const auto& output : graph.output()) used.insert(output.name());
  std::set<std::string> removed;
  auto* initializers = graph.mutable_initializer();
  for (int i = initializers->size() - 1; i >= 0; --i) {
    if (!used.contains(initializers->Get(i).name())) {
      removed.insert(initializers->Get(i).name());
      initializers->DeleteSubrange(i, 1);
    }
  }
  auto* inputs = graph.mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i) {
    if (removed.contains(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
  }
}

void SetMetadata(onnx::ModelProto& model, const std::vector<std::pair<std::string, std::string>>& entries) {
  // A named pair rather than a structured binding: clang 14 (the fuzz and sanitizer builds) cannot capture a binding.
  for (const auto& entry_pair : entries) {
    const std::string& key = entry_pair.first;
    auto* props = model.mutable_metadata_props();
    auto it = std::find_if(props->begin(), props->end(), [&](const auto& p) { return p.key() == key; });
    auto* entry = it != props->end() ? &*it : model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(entry_pair.second);
  }
}

}  // namespace

StatusOr<std::string> WriteQdqModel(std::string_view onnx_bytes, std::span<const QdqConv> convs,
                                    const std::vector<std::pair<std::string, std::string>>& metadata) {
  onnx::ModelProto model;
  if (!model.ParseFromArray(onnx_bytes.data(), static_cast<int>(onnx_bytes.size()))) {
    return InvalidArgument("the model is not a valid ONNX protobuf");
  }
  for (auto& opset : *model.mutable_opset_import()) {
    if ((opset.domain().empty() || opset.domain() == "ai.onnx") && opset.version() < kPerAxisQdqOpset) {
      return Unimplemented("quantization needs opset 13 or later (per-channel DequantizeLinear); the model has " +
                           std::to_string(opset.version()));
    }
  }
  for (const auto& conv : convs) {
    if (conv.weights.dtype() != DataType::kInt8 || conv.weights.rank() != 4 ||
        static_cast<int64_t>(conv.weight_scales.size()) != conv.weights.dim(0) ||
        conv.bias.num_elements() != conv.weights.dim(0)) {
      return InvalidArgument("quantized Conv '" + conv.node +
                             "' needs int8 4-D weights with a scale and bias per output channel");
    }
    FOVEA_RETURN_IF_ERROR(QuantizeConv(*model.mutable_graph(), conv));
  }
  RemoveUnusedInitializers(*model.mutable_graph());
  SetMetadata(model, metadata);
  return CheckAndSerialize(model);
}

}  // namespace fovea::modelio
