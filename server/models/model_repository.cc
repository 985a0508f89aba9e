#include "server/models/model_repository.h"

#include <algorithm>
#include <cmath>

#include "server/models/triton_config.h"

namespace fovea::server {
namespace {

constexpr size_t kMaxModelNameLength = 128;
constexpr int64_t kImageRank = 4;  // NCHW or NHWC
// torchvision's ImageNet eval transform resizes the shorter side to 256 for a 224 crop: the crop keeps 87.5%.
constexpr double kDefaultCropFraction = 224.0 / 256.0;

template <typename Container, typename Format>
std::string JoinKeys(const Container& items, Format format) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + format(item);
  return out.empty() ? "none" : out;
}

// The metadata key that overrides how Classify turns scores into probabilities.
constexpr char kScoresKey[] = "fovea.output.scores";

// `fovea.output.scores` when the model sets it; otherwise none for a graph that ends in Softmax or Sigmoid, softmax
// for one that ends in logits.
StatusOr<ScoreActivation> ResolveScoreActivation(const engine::Model& model) {
  const auto& properties = model.metadata().properties;
  const auto found = properties.find(kScoresKey);
  if (found == properties.end()) {
    return model.OutputIsProbability(0) ? ScoreActivation::kNone : ScoreActivation::kSoftmax;
  }
  if (found->second == "softmax") return ScoreActivation::kSoftmax;
  if (found->second == "sigmoid") return ScoreActivation::kSigmoid;
  if (found->second == "none") return ScoreActivation::kNone;
  return FailedPrecondition(
      std::string(kScoresKey) + " is '" + found->second +
      "'; use softmax (exclusive classes), sigmoid (multi-label) or none (already probabilities)");
}

// One image dimension: the metadata value when set, else the graph's static size, else an error naming the key.
StatusOr<int64_t> ResolveDimension(int64_t from_metadata, int64_t from_graph, const char* key) {
  if (from_metadata > 0 && from_graph > 0 && from_metadata != from_graph) {
    return FailedPrecondition(std::string(key) + " is " + std::to_string(from_metadata) + " but the graph input has " +
                              std::to_string(from_graph));
  }
  if (from_metadata > 0) return from_metadata;
  if (from_graph > 0) return from_graph;
  return FailedPrecondition(std::string("the graph input leaves this size free and metadata key ") + key +
                            " is not set");
}

// The fovea.input.* preprocessing keys (validated by modelio when the model loaded).
Preprocessing ResolvePreprocessing(const engine::ModelMetadata& metadata, int64_t height, int64_t width) {
  const auto& properties = metadata.properties;
  const auto value = [&properties](const char* key) {
    const auto found = properties.find(key);
    return found == properties.end() ? std::string() : found->second;
  };
  Preprocessing preprocessing;
  preprocessing.nhwc = metadata.input_layout == "NHWC";
  preprocessing.bgr = value("fovea.input.channel_order") == "BGR";
  if (value("fovea.input.resize_mode") == "crop") {
    preprocessing.resize = ResizeMode::kCrop;
    const std::string side = value("fovea.input.resize_shorter_side");
    preprocessing.shorter_side =
        side.empty()
            ? static_cast<int64_t>(std::lround(static_cast<double>(std::min(height, width)) / kDefaultCropFraction))
            : std::stoll(side);
  }
  return preprocessing;
}

Status ResolveGeometry(const engine::Model& model, ServedModel& served) {
  const engine::Graph& graph = model.graph();
  if (graph.inputs.size() != 1 || graph.inputs[0].shape.size() != kImageRank) {
    return FailedPrecondition("a served model needs exactly one NCHW or NHWC image input, the graph has " +
                              std::to_string(graph.inputs.size()));
  }
  if (graph.outputs.empty()) return FailedPrecondition("the graph has no output");
  const engine::ModelMetadata& metadata = model.metadata();
  const engine::Shape& shape = graph.inputs[0].shape;
  const bool nhwc = metadata.input_layout == "NHWC";
  const int64_t graph_channels = nhwc ? shape[3] : shape[1];
  const int64_t graph_height = nhwc ? shape[1] : shape[2];
  const int64_t graph_width = nhwc ? shape[2] : shape[3];
  FOVEA_ASSIGN_OR_RETURN(served.channels,
                         ResolveDimension(metadata.input_channels, graph_channels, "fovea.input.channels"));
  FOVEA_ASSIGN_OR_RETURN(served.height, ResolveDimension(metadata.input_height, graph_height, "fovea.input.height"));
  FOVEA_ASSIGN_OR_RETURN(served.width, ResolveDimension(metadata.input_width, graph_width, "fovea.input.width"));
  // One value applies to every channel (docs/model-format.md); otherwise one per channel.
  const auto channel_count = static_cast<size_t>(served.channels);
  for (const std::vector<float>* values : {&metadata.mean, &metadata.std}) {
    if (values->size() > 1 && values->size() != channel_count) {
      return FailedPrecondition("fovea.input.mean/std need 1 value or one per input channel (" +
                                std::to_string(served.channels) + ")");
    }
  }
  served.preprocessing = ResolvePreprocessing(metadata, served.height, served.width);
  if (served.preprocessing.bgr && served.channels != 3) {
    return FailedPrecondition("channel order BGR needs a 3-channel input, the model takes " +
                              std::to_string(served.channels));
  }
  FOVEA_ASSIGN_OR_RETURN(served.score_activation, ResolveScoreActivation(model));
  return OkStatus();
}

// Runs one zero image to compile the batch-1 plan and learn the outputs' shapes (and so the class count) from the
// real run. Every output must have the batch first: the batcher splits each output by rows.
Status WarmUp(ServedModel& served) {
  engine::Shape input_shape = served.ImageShape();
  input_shape.insert(input_shape.begin(), 1);
  const engine::Tensor zeros(engine::DataType::kFloat32, input_shape);
  FOVEA_ASSIGN_OR_RETURN(std::vector<engine::Tensor> outputs, served.session->Run({&zeros, 1}));
  const engine::Graph& graph = served.model->graph();
  for (size_t i = 0; i < outputs.size(); ++i) {
    engine::Shape shape = outputs[i].shape();
    if (shape.empty() || shape[0] != 1) {
      return FailedPrecondition("output '" + graph.outputs[i].name + "' has shape " + engine::ShapeToString(shape) +
                                " for one image; every output must have the batch as its first dimension");
    }
    shape[0] = -1;
    served.outputs.push_back({graph.outputs[i].name, outputs[i].dtype(), std::move(shape)});
  }
  served.num_classes = ClassCount(served.outputs[0]);
  served.segmentation_classes = SegmentationClassCount(served.outputs[0]);
  const auto& labels = served.model->metadata().labels;
  const int64_t label_count = std::max(served.num_classes, served.segmentation_classes);
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != label_count) {
    const std::string& label_file = served.folder_config->labels_source;
    return FailedPrecondition((label_file.empty() ? std::string("fovea.labels") : label_file) + " has " +
                              std::to_string(labels.size()) + " labels but output '" + graph.outputs[0].name +
                              "' has shape " + engine::ShapeToString(outputs[0].shape()) + " (" +
                              std::to_string(label_count) + " classes)");
  }
  return OkStatus();
}

// The model's input and outputs as config.pbtxt describes them, batch first.
Status CheckFolderConfig(const ServedModel& served) {
  const ModelFolderConfig& folder = *served.folder_config;
  if (folder.source.empty()) return OkStatus();
  const engine::ValueInfo& graph_input = served.model->graph().inputs[0];
  engine::Shape input_dims = served.ImageShape();
  input_dims.insert(input_dims.begin(), -1);
  const std::vector<TensorSignature> inputs = {{graph_input.name, inference::TYPE_FP32, input_dims}};
  std::vector<TensorSignature> outputs;
  for (const ServedOutput& output : served.outputs) {
    outputs.push_back({output.name, TritonDataType(output.dtype), output.shape});
  }
  return CheckConfigAgainstModel(folder.config, inputs, outputs).WithContext(folder.source);
}

}  // namespace

engine::Shape ServedModel::ImageShape() const {
  return preprocessing.nhwc ? engine::Shape{height, width, channels} : engine::Shape{channels, height, width};
}

inference::DataType TritonDataType(engine::DataType dtype) {
  switch (dtype) {
    case engine::DataType::kFloat32:
      return inference::TYPE_FP32;
    case engine::DataType::kInt64:
      return inference::TYPE_INT64;
    case engine::DataType::kUint8:
      return inference::TYPE_UINT8;
    case engine::DataType::kInt8:
      return inference::TYPE_INT8;
    case engine::DataType::kBool:
      return inference::TYPE_BOOL;
  }
  return inference::TYPE_INVALID;
}

std::string ModelTitle(const std::string& name, int64_t version) {
  return "model '" + name + "' version " + std::to_string(version);
}

Status ValidateModelName(std::string_view name) {
  if (name.empty()) return InvalidArgument("model name is empty");
  if (name.size() > kMaxModelNameLength) {
    return InvalidArgument("model name is longer than " + std::to_string(kMaxModelNameLength) + " characters");
  }
  for (char c : name) {
    const bool allowed =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!allowed || name.front() == '.') {
      return InvalidArgument("model name '" + std::string(name) +
                             "' is invalid: use letters, digits, '.', '_' and '-', not starting with '.'");
    }
  }
  return OkStatus();
}

int64_t ClassCount(const ServedOutput& output) {
  if (output.dtype != engine::DataType::kFloat32) return 0;
  const engine::Shape& shape = output.shape;
  const bool flat = shape.size() == 2;
  const bool spatial_ones = shape.size() == 4 && shape[2] == 1 && shape[3] == 1;  // a 1x1-convolution head
  return (flat || spatial_ones) && shape[1] >= 1 ? shape[1] : 0;
}

int64_t SegmentationClassCount(const ServedOutput& output) {
  if (output.dtype != engine::DataType::kFloat32) return 0;
  const engine::Shape& shape = output.shape;
  return shape.size() == 4 && shape[1] >= 1 && shape[2] * shape[3] > 1 ? shape[1] : 0;
}

StatusOr<std::vector<engine::Tensor>> RunServedModel(const ServedModel& model, const engine::Tensor& batch) {
  FOVEA_ASSIGN_OR_RETURN(std::vector<engine::Tensor> outputs, model.session->Run({&batch, 1}));
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].rank() < 1 || outputs[i].dim(0) != batch.dim(0)) {
      return Internal("output '" + model.outputs[i].name + "' has shape " + engine::ShapeToString(outputs[i].shape()) +
                      " for a batch of " + std::to_string(batch.dim(0)));
    }
  }
  return outputs;
}

Status RequireClassifier(const ServedModel& model) {
  if (model.num_classes > 0) return OkStatus();
  const ServedOutput& first = model.outputs.front();
  return FailedPrecondition(ModelTitle(model.name, model.version) + " is not a classifier: its first output '" +
                            first.name + "' is " + engine::DataTypeName(first.dtype) + " " +
                            engine::ShapeToString(first.shape) +
                            ", not one score per class ([N, K] or [N, K, 1, 1]); ask ModelInfer for its outputs" +
                            (model.segmentation_classes > 0 ? ", or Localize for its segmentation maps" : ""));
}

StatusOr<std::shared_ptr<const ServedModel>> PrepareModel(std::string name, int64_t version,
                                                          std::shared_ptr<const engine::Model> model,
                                                          std::shared_ptr<const ModelFolderConfig> folder_config,
                                                          VersionPolicy version_policy) {
  auto served = std::make_shared<ServedModel>();
  served->name = std::move(name);
  served->version = version;
  served->model = std::move(model);
  if (folder_config != nullptr) served->folder_config = std::move(folder_config);
  served->version_policy = std::move(version_policy);
  const std::string title = ModelTitle(served->name, version);
  FOVEA_RETURN_IF_ERROR(ResolveGeometry(*served->model, *served).WithContext(title));
  FOVEA_ASSIGN_OR_RETURN(served->session, engine::Session::Create(served->model));
  FOVEA_RETURN_IF_ERROR(WarmUp(*served).WithContext(title));
  FOVEA_RETURN_IF_ERROR(CheckFolderConfig(*served).WithContext(title));
  served->localizer = engine::localization::Localizer::Create(served->model);
  return std::shared_ptr<const ServedModel>(std::move(served));
}

ModelRepository::ModelRepository() : catalog_(std::make_shared<const ModelCatalog>()) {}

ModelRepository::ModelRepository(ModelCatalog catalog)
    : catalog_(std::make_shared<const ModelCatalog>(std::move(catalog))), ready_(true) {}

std::shared_ptr<const ModelCatalog> ModelRepository::Snapshot() const {
  std::lock_guard lock(mutex_);
  return catalog_;
}

void ModelRepository::Replace(ModelCatalog catalog) {
  auto next = std::make_shared<const ModelCatalog>(std::move(catalog));
  ReplaceListener listener;
  {
    std::lock_guard lock(mutex_);
    catalog_ = next;
    ready_ = true;
    listener = listener_;
  }
  if (listener) listener(*next);
}

void ModelRepository::SetReplaceListener(ReplaceListener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

size_t CountVersions(const ModelCatalog& catalog) {
  size_t count = 0;
  for (const auto& [name, versions] : catalog) count += versions.size();
  return count;
}

bool ModelRepository::ready() const {
  std::lock_guard lock(mutex_);
  return ready_;
}

StatusOr<std::shared_ptr<const ServedModel>> ModelRepository::Find(std::string_view name, int64_t version) const {
  FOVEA_RETURN_IF_ERROR(ValidateModelName(name));
  if (version < 0) return InvalidArgument("model version " + std::to_string(version) + " is negative");
  if (!ready()) {
    return Status{StatusCode::kUnavailable, "the model repository is still loading; retry when health reports SERVING"};
  }
  const std::shared_ptr<const ModelCatalog> catalog = Snapshot();
  const auto model = catalog->find(std::string(name));
  if (model == catalog->end() || model->second.empty()) {
    return NotFound("model '" + std::string(name) +
                    "' not found; served models: " + JoinKeys(*catalog, [](const auto& item) { return item.first; }));
  }
  const auto& versions = model->second;
  const auto found = version == 0 ? std::prev(versions.end()) : versions.find(version);
  if (found == versions.end()) {
    return NotFound(
        "model '" + std::string(name) + "' has no version " + std::to_string(version) +
        "; loaded versions: " + JoinKeys(versions, [](const auto& item) { return std::to_string(item.first); }));
  }
  return found->second;
}

std::vector<int64_t> VersionsOf(const ModelCatalog& catalog, const std::string& name) {
  std::vector<int64_t> versions;
  const auto found = catalog.find(name);
  if (found == catalog.end()) return versions;
  for (const auto& [version, model] : found->second) versions.push_back(version);
  return versions;
}

}  // namespace fovea::server
