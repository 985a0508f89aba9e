#include "server/models/model_repository.h"

namespace fovea::server {
namespace {

constexpr size_t kMaxModelNameLength = 128;
constexpr int64_t kImageRank = 4;   // NCHW
constexpr int64_t kScoresRank = 2;  // [batch, classes]

template <typename Container, typename Format>
std::string JoinKeys(const Container& items, Format format) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + format(item);
  return out.empty() ? "none" : out;
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
    return FailedPrecondition("a classifier needs exactly one NCHW input, the graph has " +
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
  const int producer = graph.ProducerOf(graph.outputs[0].name);
  served.outputs_probabilities = producer >= 0 && graph.nodes[static_cast<size_t>(producer)].op->IsSoftmax();
  return OkStatus();
}

// Runs one zero image to compile the batch-1 plan and learn the class count from the real output.
Status WarmUp(ServedModel& served) {
  const engine::Tensor zeros(engine::DataType::kFloat32, {1, served.channels, served.height, served.width});
  FOVEA_ASSIGN_OR_RETURN(std::vector<engine::Tensor> outputs, served.session->Run({&zeros, 1}));
  if (outputs.empty() || outputs[0].rank() != kScoresRank || outputs[0].dim(0) != 1 || outputs[0].dim(1) < 1) {
    return FailedPrecondition("a classifier must output [batch, classes] scores, got " +
                              (outputs.empty() ? std::string("nothing") : engine::ShapeToString(outputs[0].shape())));
  }
  served.num_classes = outputs[0].dim(1);
  const auto& labels = served.model->metadata().labels;
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != served.num_classes) {
    return FailedPrecondition("fovea.labels has " + std::to_string(labels.size()) + " labels but the model outputs " +
                              std::to_string(served.num_classes) + " classes");
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
