#include "trainer/finetune.h"

#include <fstream>
#include <sstream>

#include "engine/localization/head.h"
#include "engine/session.h"
#include "modelio/metadata.h"
#include "modelio/onnx_edit.h"
#include "modelio/onnx_export.h"
#include "modelio/onnx_import.h"

namespace fovea::trainer {
namespace {

engine::Shape StaticInputShape(const engine::Graph& graph) {
  return graph.inputs.empty() ? engine::Shape{} : graph.inputs[0].shape;
}

StatusOr<InputGeometry> SourceGeometry(const engine::Graph& graph, const engine::ModelMetadata& metadata) {
  const engine::Shape shape = StaticInputShape(graph);
  const auto dim = [&](int64_t from_metadata, size_t axis) {
    return from_metadata > 0 ? from_metadata : (shape.size() == 4 ? shape[axis] : -1);
  };
  const InputGeometry geometry{dim(metadata.input_channels, 1), dim(metadata.input_height, 2),
                               dim(metadata.input_width, 3)};
  if (geometry.channels <= 0 || geometry.height <= 0 || geometry.width <= 0) {
    return FailedPrecondition("its image input " + engine::ShapeToString(shape) +
                              " has no fixed size and no fovea.input.channels/height/width metadata says one");
  }
  return geometry;
}

// The keys FineTunedMetadata's fields write (modelio::MetadataEntriesFor), dropped from the copied properties.
bool WrittenFromFields(const std::string& key) {
  for (const char* field :
       {modelio::kLabelsKey, modelio::kInputLayoutKey, modelio::kInputChannelsKey, modelio::kInputHeightKey,
        modelio::kInputWidthKey, modelio::kInputMeanKey, modelio::kInputStdKey, modelio::kBackgroundClassKey}) {
    if (key == field) return true;
  }
  return key.rfind(modelio::kTrainPrefix, 0) == 0;
}

}  // namespace

StatusOr<FineTuneSource> LoadFineTuneSource(const std::string& path) {
  FineTuneSource source;
  source.path = path;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open the model to fine-tune");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  source.bytes = bytes.str();
  auto imported = modelio::ImportOnnx(source.bytes);
  if (!imported.ok()) return imported.status().WithContext(path);
  source.metadata = imported->metadata;
  auto final_layer = engine::localization::FindFinalLayer(imported->graph);
  if (!final_layer.ok()) return final_layer.status().WithContext(path);
  source.final_layer = *std::move(final_layer);
  auto geometry = SourceGeometry(imported->graph, source.metadata);
  if (!geometry.ok()) return geometry.status().WithContext(path);
  source.input = *geometry;

  engine::Graph backbone = std::move(imported->graph);
  backbone.outputs.clear();
  backbone = engine::localization::WithOutputs(std::move(backbone), {source.final_layer.features});
  auto model = engine::Model::Create(std::move(backbone), source.metadata);
  if (!model.ok()) return model.status().WithContext(path + " backbone");
  FOVEA_ASSIGN_OR_RETURN(auto session, engine::Session::Create(*model));
  const InputGeometry& g = source.input;
  const engine::Tensor black = engine::Tensor::FromFloats(
      {1, g.channels, g.height, g.width}, std::vector<float>(static_cast<size_t>(g.channels * g.height * g.width)));
  auto features = session->Run({&black, 1});
  if (!features.ok()) return features.status().WithContext(path + " backbone");
  const engine::Shape& shape = features->front().shape();
  if (shape.size() != 2 || shape[0] != 1) {
    return FailedPrecondition(path + ": the final layer reads '" + source.final_layer.features + "' of shape " +
                              engine::ShapeToString(shape) + ", not [N, features]");
  }
  source.backbone = {"backbone", *std::move(model), shape[1]};
  return source;
}

StatusOr<std::unique_ptr<Network>> UnfrozenNetwork(const FineTuneSource& source, const Network& head,
                                                   float backbone_lr_scale, uint64_t seed) {
  const auto spec = source.metadata.properties.find(std::string(modelio::kTrainPrefix) + "architecture");
  if (spec == source.metadata.properties.end()) {
    return FailedPrecondition(source.path +
                              " has no fovea.train.architecture, so fovea-train cannot rebuild its layers to train "
                              "them; fine-tune it head-only (without --unfreeze-epochs)");
  }
  FOVEA_ASSIGN_OR_RETURN(auto network, Network::Create(spec->second, source.input, head.num_classes(), seed));
  FOVEA_ASSIGN_OR_RETURN(const modelio::ImportedModel imported, modelio::ImportOnnx(source.bytes));
  for (const auto& p : network->parameters().all()) {
    const bool classifier = p->name.rfind("classifier.", 0) == 0;
    const Parameter* trained = classifier ? head.parameters().Find(p->name) : nullptr;
    const auto initializer = imported.graph.initializers.find(p->name);
    if (!classifier && (initializer == imported.graph.initializers.end() ||
                        initializer->second.dtype() != engine::DataType::kFloat32)) {
      return FailedPrecondition(source.path + " has no float32 initializer '" + p->name + "' that its architecture '" +
                                spec->second + "' needs");
    }
    const std::span<const float> values =
        classifier ? std::span<const float>(trained->value) : initializer->second.floats();
    if (values.size() != p->value.size()) {
      return FailedPrecondition(source.path + ": '" + p->name + "' has " + std::to_string(values.size()) +
                                " values, its architecture '" + spec->second + "' needs " +
                                std::to_string(p->value.size()));
    }
    std::copy(values.begin(), values.end(), p->value.begin());
    if (!classifier) p->lr_scale = backbone_lr_scale;
  }
  return network;
}

engine::ModelMetadata FineTunedMetadata(const FineTuneSource& source, const std::vector<std::string>& labels,
                                        const Normalization& normalization) {
  engine::ModelMetadata metadata = source.metadata;
  metadata.labels = labels;
  metadata.background_class = -1;
  metadata.input_channels = source.input.channels;
  metadata.input_height = source.input.height;
  metadata.input_width = source.input.width;
  metadata.mean = normalization.mean;
  metadata.std = normalization.std;
  std::erase_if(metadata.properties, [](const auto& entry) { return WrittenFromFields(entry.first); });
  return metadata;
}

StatusOr<std::string> ExportFineTuned(const FineTuneSource& source, const Network& network,
                                      const engine::ModelMetadata& metadata) {
  const Parameter* weight = network.parameters().Find("classifier.weight");
  const Parameter* bias = network.parameters().Find("classifier.bias");
  if (weight == nullptr || bias == nullptr) return Internal("the fine-tuned network has no classifier");
  modelio::ClassifierReplacement replacement;
  replacement.features = source.final_layer.features;
  replacement.logits = source.final_layer.logits;
  replacement.removed_outputs = source.final_layer.layer_outputs;
  replacement.class_outputs = source.final_layer.class_outputs;
  replacement.weight = engine::Tensor::FromFloats({weight->shape[0], source.backbone.features}, weight->value);
  replacement.bias = engine::Tensor::FromFloats(bias->shape, bias->value);
  auto bytes =
      modelio::ReplaceClassifier(source.bytes, replacement, modelio::MetadataEntriesFor(metadata), "fovea-train");
  if (!bytes.ok()) return bytes.status().WithContext("fine-tuned from " + source.path);
  return bytes;
}

}  // namespace fovea::trainer
