#include "modelio/onnx_edit.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <set>

#include "modelio/onnx_export.h"
#include "modelio/tensor_proto.h"

namespace fovea::modelio {
namespace {

bool Contains(const std::vector<std::string>& values, const std::string& value) {
  return std::find(values.begin(), values.end(), value) != values.end();
}

// Drops the nodes writing any of `removed` and inserts `replacement` after the producer of `features` (first when
// a graph input or initializer is the features). Fails when a dropped node's output is read by a kept node.
Status SpliceNode(onnx::GraphProto& graph, const std::vector<std::string>& removed, const std::string& features,
                  const onnx::NodeProto& replacement) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  bool inserted = false;
  const auto writes = [](const onnx::NodeProto& node, const std::string& value) {
    return std::find(node.output().begin(), node.output().end(), value) != node.output().end();
  };
  if (!std::any_of(graph.node().begin(), graph.node().end(), [&](const auto& n) { return writes(n, features); })) {
    *kept.Add() = replacement;
    inserted = true;
  }
  for (const onnx::NodeProto& node : graph.node()) {
    const bool drop = std::any_of(node.output().begin(), node.output().end(),
                                  [&](const std::string& output) { return Contains(removed, output); });
    if (drop) continue;
    for (const std::string& input : node.input()) {
      if (Contains(removed, input) && input != replacement.output(0)) {
        return FailedPrecondition("node '" + node.name() + "' (" + node.op_type() + ") reads '" + input +
                                  "', an output of the replaced classifier");
      }
    }
    *kept.Add() = node;
    if (!inserted && writes(node, features)) {
      *kept.Add() = replacement;
      inserted = true;
    }
  }
  *graph.mutable_node() = std::move(kept);
  return OkStatus();
}

// Removes initializers (and their graph-input entries, as IR < 4 files list them) that no node reads any more.
void DropUnreadInitializers(onnx::GraphProto& graph) {
  std::set<std::string> read;
  for (const auto& node : graph.node()) read.insert(node.input().begin(), node.input().end());
  for (const auto& output : graph.output()) read.insert(output.name());
  const auto unread = [&](const std::string& name) { return read.count(name) == 0; };
  std::set<std::string> dropped;
  auto* initializers = graph.mutable_initializer();
  for (int i = initializers->size() - 1; i >= 0; --i) {
    if (unread(initializers->Get(i).name())) {
      dropped.insert(initializers->Get(i).name());
      initializers->DeleteSubrange(i, 1);
    }
  }
  auto* inputs = graph.mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i) {
    if (dropped.count(inputs->Get(i).name()) > 0) inputs->DeleteSubrange(i, 1);
  }
}

Status ResizeClassOutputs(onnx::GraphProto& graph, const std::vector<std::string>& class_outputs, int64_t classes) {
  for (const std::string& name : class_outputs) {
    auto output = std::find_if(graph.mutable_output()->begin(), graph.mutable_output()->end(),
                               [&](const auto& o) { return o.name() == name; });
    if (output == graph.mutable_output()->end()) return InvalidArgument("'" + name + "' is not a graph output");
    auto* shape = output->mutable_type()->mutable_tensor_type()->mutable_shape();
    if (shape->dim_size() != 2) {
      return FailedPrecondition("graph output '" + name + "' is not [N, classes] (it has " +
                                std::to_string(shape->dim_size()) + " dimensions)");
    }
    shape->mutable_dim(1)->set_dim_value(classes);
  }
  // Inferred shapes of intermediate values may name the old class count; the checker infers them again.
  graph.clear_value_info();
  return OkStatus();
}

}  // namespace

StatusOr<std::string> ReplaceClassifier(std::string_view source, const ClassifierReplacement& replacement,
                                        const MetadataEntries& metadata, const std::string& producer_name) {
  const engine::Shape& w = replacement.weight.shape();
  if (w.size() != 2 || replacement.bias.shape() != engine::Shape{w[0]}) {
    return InvalidArgument("a classifier needs weights [K, F] and a bias [K], got " + engine::ShapeToString(w) +
                           " and " + engine::ShapeToString(replacement.bias.shape()));
  }
  onnx::ModelProto model;
  if (!model.ParseFromArray(source.data(), static_cast<int>(source.size()))) {
    return InvalidArgument("the source model is not an ONNX protobuf");
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  const std::string weight_name = replacement.name_prefix + ".weight";
  const std::string bias_name = replacement.name_prefix + ".bias";
  for (const auto& initializer : graph.initializer()) {
    if (initializer.name() == weight_name || initializer.name() == bias_name) {
      return FailedPrecondition("the source model already has an initializer '" + initializer.name() + "'");
    }
  }
  onnx::NodeProto gemm;
  gemm.set_op_type("Gemm");
  gemm.set_name(replacement.name_prefix);
  gemm.add_input(replacement.features);
  gemm.add_input(weight_name);
  gemm.add_input(bias_name);
  gemm.add_output(replacement.logits);
  auto* trans_b = gemm.add_attribute();
  trans_b->set_name("transB");
  trans_b->set_type(onnx::AttributeProto::INT);
  trans_b->set_i(1);
  FOVEA_RETURN_IF_ERROR(SpliceNode(graph, replacement.removed_outputs, replacement.features, gemm));
  DropUnreadInitializers(graph);
  *graph.add_initializer() = TensorToProto(replacement.weight, weight_name);
  *graph.add_initializer() = TensorToProto(replacement.bias, bias_name);
  FOVEA_RETURN_IF_ERROR(ResizeClassOutputs(graph, replacement.class_outputs, w[0]));
  model.clear_metadata_props();
  for (const auto& [key, value] : metadata) {
    auto* entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  model.set_producer_name(producer_name);
  // The source's nodes are the user's: structural check only (CheckAndSerialize says why). Fine-tuning re-imports
  // the result and runs it in the engine before reporting success.
  return CheckAndSerialize(model, false);
}

}  // namespace fovea::modelio
