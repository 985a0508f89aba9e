#include "server/models/model_repository.h"

namespace fovea::server {
namespace {

constexpr size_t kMaxModelNameLength = 128;
constexpr int64_t kImageRank = 4;  // NCHW

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

Status ResolveGeometry(const engine::Model& model, ServedModel& served) {
  const engine::Graph& graph = model.graph();
  if (graph.inputs.size() != 1 || graph.inputs[0].shape.size() != kImageRank) {
    return FailedPrecondition("a served model needs exactly one NCHW image input, the graph has " +
                              std::to_string(graph.inputs.size()));
  }
  if (graph.outputs.empty()) return FailedPrecondition("the graph has no output");
  const engine::ModelMetadata& metadata = model.metadata();
  if (metadata.input_layout != "NCHW") {
    return FailedPrecondition("input layout " + metadata.input_layout + " is not served; Classify feeds NCHW");
  }
  const engine::Shape& shape = graph.inputs[0].shape;
  FOVEA_ASSIGN_OR_RETURN(served.channels, ResolveDimension(metadata.input_channels, shape[1], "fovea.input.channels"));
  FOVEA_ASSIGN_OR_RETURN(served.height, ResolveDimension(metadata.input_height, shape[2], "fovea.input.height"));
  FOVEA_ASSIGN_OR_RETURN(served.width, ResolveDimension(metadata.input_width, shape[3], "fovea.input.width"));
  // One value applies to every channel (docs/model-format.md); otherwise one per channel.
  const auto channel_count = static_cast<size_t>(served.channels);
  for (const std::vector<float>* values : {&metadata.mean, &metadata.std}) {
    if (values->size() > 1 && values->size() != channel_count) {
      return FailedPrecondition("fovea.input.mean/std need 1 value or one per input channel (" +
                                std::to_string(served.channels) + ")");
    }
  }
  FOVEA_ASSIGN_OR_RETURN(served.score_activation, ResolveScoreActivation(model));
  return OkStatus();
}

// Runs one zero image to compile the batch-1 plan and learn the outputs' shapes (and so the class count) from the
// real run. Every output must have the batch first: the batcher splits each output by rows.
Status WarmUp(ServedModel& served) {
  const engine::Tensor zeros(engine::DataType::kFloat32, {1, served.channels, served.height, served.width});
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
  const auto& labels = served.model->metadata().labels;
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != served.num_classes) {
    return FailedPrecondition("fovea.labels has " + std::to_string(labels.size()) + " labels but output '" +
                              graph.outputs[0].name + "' has shape " + engine::ShapeToString(outputs[0].shape()) +
                              " (" + std::to_string(served.num_classes) + " classes)");
  }
  return OkStatus();
}

}  // namespace

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
                            ", not one score per class ([N, K] or [N, K, 1, 1]); ask ModelInfer for its outputs");
}

StatusOr<std::shared_ptr<const ServedModel>> PrepareModel(std::string name, int64_t version,
                                                          std::shared_ptr<const engine::Model> model) {
  auto served = std::make_shared<ServedModel>();
  served->name = std::move(name);
  served->version = version;
  served->model = std::move(model);
  const std::string title = ModelTitle(served->name, version);
  FOVEA_RETURN_IF_ERROR(ResolveGeometry(*served->model, *served).WithContext(title));
  FOVEA_ASSIGN_OR_RETURN(served->session, engine::Session::Create(served->model));
  FOVEA_RETURN_IF_ERROR(WarmUp(*served).WithContext(title));
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
