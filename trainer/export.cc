#include "trainer/export.h"

namespace fovea::trainer {
namespace {

using modelio::ExportAttribute;
using modelio::ExportNode;

engine::Tensor ParameterTensor(const Parameter& param, const engine::Shape& shape) {
  return engine::Tensor::FromFloats(shape, param.value);
}

std::vector<int64_t> OrDefault(const std::vector<int64_t>& v, int64_t fallback) {
  return v.empty() ? std::vector<int64_t>{fallback, fallback} : v;
}

// ONNX pads list all begins, then all ends.
std::vector<int64_t> OnnxPads(const engine::ops::WindowAttributes& w) {
  std::vector<int64_t> pads = OrDefault(w.pads_begin, 0);
  const std::vector<int64_t> ends = OrDefault(w.pads_end, 0);
  pads.insert(pads.end(), ends.begin(), ends.end());
  return pads;
}

StatusOr<std::string> AppendLayer(const LayerDef& layer, const engine::Shape& shape, const ParameterStore& store,
                                  std::string x, modelio::ExportGraph& graph);

// A residual block as ResNet's ONNX files have it: the branches' Conv/BatchNormalization(/Relu) nodes, then Add and
// Relu. (The branch layers are convolutions and normalizations, which do not read `shape`.)
StatusOr<std::string> AppendResidual(const LayerDef& block, const engine::Shape& shape, const ParameterStore& store,
                                     const std::string& x, modelio::ExportGraph& graph) {
  const ResidualBranches branches = ExpandResidual(block, shape[1]);
  std::string ends[2] = {x, x};
  const std::vector<LayerDef>* chains[2] = {&branches.main, &branches.shortcut};
  for (int b = 0; b < 2; ++b) {
    for (const LayerDef& inner : *chains[b]) {
      FOVEA_ASSIGN_OR_RETURN(ends[b], AppendLayer(inner, shape, store, ends[b], graph));
    }
  }
  const std::string sum = block.name + ".add";
  graph.nodes.push_back({"Add", sum, {ends[0], ends[1]}, {sum}, {}});
  graph.nodes.push_back({"Relu", block.name + ".relu", {sum}, {block.name}, {}});
  return block.name;
}

// Appends the nodes for `layer` reading `x` (of `shape`, batch 1) and returns the name of its output.
StatusOr<std::string> AppendLayer(const LayerDef& layer, const engine::Shape& shape, const ParameterStore& store,
                                  std::string x, modelio::ExportGraph& graph) {
  const auto param = [&](const std::string& suffix) -> StatusOr<const Parameter*> {
    const Parameter* p = store.Find(layer.name + suffix);
    if (p == nullptr) return NotFound("parameter '" + layer.name + suffix + "' is missing");
    return p;
  };
  const std::string y = layer.name;
  if (std::holds_alternative<ResidualLayerParams>(layer.params)) return AppendResidual(layer, shape, store, x, graph);
  if (std::holds_alternative<FrozenLayerParams>(layer.params)) {
    return Unimplemented(
        "a frozen backbone is exported by replacing the source model's classifier "
        "(trainer/finetune.h), not rebuilt from layers");
  }
  if (const auto* conv = std::get_if<ConvLayerParams>(&layer.params)) {
    FOVEA_ASSIGN_OR_RETURN(const Parameter* w, param(".weight"));
    graph.initializers[w->name] = ParameterTensor(*w, w->shape);
    graph.nodes.push_back({"Conv",
                           layer.name,
                           {x, w->name},
                           {y},
                           {{"kernel_shape", std::vector<int64_t>{w->shape[2], w->shape[3]}},
                            {"strides", OrDefault(conv->window.strides, 1)},
                            {"pads", OnnxPads(conv->window)},
                            {"dilations", std::vector<int64_t>{1, 1}},
                            {"group", int64_t{1}}}});
  } else if (const auto* bn = std::get_if<BatchNormLayerParams>(&layer.params)) {
    std::vector<std::string> inputs = {x};
    for (const char* suffix : {".scale", ".shift", ".running_mean", ".running_var"}) {
      FOVEA_ASSIGN_OR_RETURN(const Parameter* p, param(suffix));
      graph.initializers[p->name] = ParameterTensor(*p, p->shape);
      inputs.push_back(p->name);
    }
    const std::string normalized = bn->fuse_relu ? layer.name + ".normalized" : y;
    graph.nodes.push_back({"BatchNormalization",
                           layer.name,
                           inputs,
                           {normalized},
                           {{"epsilon", bn->epsilon}, {"momentum", 1.0f - bn->momentum}}});
    if (bn->fuse_relu) graph.nodes.push_back({"Relu", layer.name + ".relu", {normalized}, {y}, {}});
  } else if (std::holds_alternative<engine::ops::ActivationParams>(layer.params)) {
    graph.nodes.push_back({"Relu", layer.name, {x}, {y}, {}});
  } else if (const auto* pool = std::get_if<PoolLayerParams>(&layer.params)) {
    const bool max = pool->kind == PoolLayerParams::Kind::kMax;
    if (pool->global) {
      graph.nodes.push_back({max ? "GlobalMaxPool" : "GlobalAveragePool", layer.name, {x}, {y}, {}});
    } else {
      graph.nodes.push_back({max ? "MaxPool" : "AveragePool",
                             layer.name,
                             {x},
                             {y},
                             {{"kernel_shape", pool->window.kernel},
                              {"strides", OrDefault(pool->window.strides, 1)},
                              {"pads", OnnxPads(pool->window)}}});
    }
  } else {
    FOVEA_ASSIGN_OR_RETURN(const Parameter* w, param(".weight"));
    FOVEA_ASSIGN_OR_RETURN(const Parameter* b, param(".bias"));
    if (shape.size() > 2) {
      const std::string flat = layer.name + ".flatten";
      graph.nodes.push_back({"Flatten", flat, {x}, {flat}, {{"axis", int64_t{1}}}});
      x = flat;
    }
    // Plain row-major [O, C, H, W] weights are exactly the [O, C*H*W] matrix Flatten's order needs.
    const int64_t features = engine::NumElements(w->shape) / w->shape[0];
    graph.initializers[w->name] = ParameterTensor(*w, {w->shape[0], features});
    graph.initializers[b->name] = ParameterTensor(*b, b->shape);
    graph.nodes.push_back({"Gemm", layer.name, {x, w->name, b->name}, {y}, {{"transB", int64_t{1}}}});
  }
  return y;
}

}  // namespace

StatusOr<modelio::ExportGraph> BuildExportGraph(const Network& network) {
  modelio::ExportGraph graph;
  graph.name = "fovea_" + network.spec();
  const InputGeometry& in = network.input();
  graph.inputs.push_back({kInputName, engine::DataType::kFloat32, {-1, in.channels, in.height, in.width}});
  std::string x = kInputName;
  for (size_t i = 0; i < network.layers().size(); ++i) {
    FOVEA_ASSIGN_OR_RETURN(x, AppendLayer(network.layers()[i], network.shapes()[i], network.parameters(), x, graph));
  }
  graph.nodes.push_back({"Softmax", "softmax", {x}, {kOutputName}, {{"axis", int64_t{1}}}});
  graph.outputs.push_back({kOutputName, engine::DataType::kFloat32, {-1, network.num_classes()}});
  return graph;
}

Status ExportNetwork(const Network& network, const engine::ModelMetadata& metadata, const std::string& path) {
  FOVEA_ASSIGN_OR_RETURN(auto graph, BuildExportGraph(network));
  modelio::ExportOptions options;
  options.producer_name = "fovea-train";
  options.doc_string = "Trained by fovea-train, architecture " + network.spec();
  return modelio::WriteOnnxFile(path, graph, metadata, options);
}

}  // namespace fovea::trainer
