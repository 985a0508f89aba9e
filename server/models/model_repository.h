#pragma once
// ModelRepository: the models the server answers with, loaded from `<root>/<name>/<version>/model.onnx`.
//
// The catalog is an immutable snapshot behind a shared_ptr; lookups copy the pointer, so a reload
// (server/models/repository_poller.h) builds a new catalog and swaps it in without disturbing requests in flight.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "engine/localization/localizer.h"
#include "engine/model.h"
#include "engine/session.h"
#include "server/models/model_config.h"
#include "server/models/preprocessing.h"
#include "server/models/version_policy.h"

namespace fovea::server {

// One graph output as the server describes it: its element type, and its shape with -1 for the batch (the first
// dimension of every served output).
struct ServedOutput {
  std::string name;
  engine::DataType dtype = engine::DataType::kFloat32;
  engine::Shape shape;
};

// What turns a classifier's scores into fovea.v1's probabilities. The Open Inference Protocol never applies it: its
// outputs are the graph's, unchanged.
enum class ScoreActivation {
  kSoftmax,  // the graph ends in logits of mutually exclusive classes
  kSigmoid,  // the graph ends in independent (multi-label) logits
  kNone,     // the graph's scores are already probabilities (it ends in Softmax or Sigmoid)
};

// One loaded model version, ready to run. Immutable once built; shared by every request using it.
struct ServedModel {
  std::string name;
  int64_t version = 0;
  std::shared_ptr<const engine::Model> model;
  std::unique_ptr<engine::Session> session;  // Session::Run is thread-safe (engine/session.h)
  // The input one image becomes: [channels, height, width], from the fovea.input.* metadata or the graph input.
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  // Layout, colour order and resize mode of the image input (see Preprocessing).
  Preprocessing preprocessing;
  // Every graph output, in the graph's order.
  std::vector<ServedOutput> outputs;
  // The class count when the first output holds one score per class ([N, K] or [N, K, 1, 1]): a classifier, which
  // Classify and Localize serve. 0 for any other model (segmentation, embeddings, ...), served over ModelInfer only.
  int64_t num_classes = 0;
  // The class count when the first output is a per-pixel class map ([N, C, H, W], H or W above 1): a segmentation
  // model, which Localize serves (SEGMENTATION). 0 for any other model.
  int64_t segmentation_classes = 0;
  // How Classify (and SEGMENTATION) turns the first output into probabilities (see ScoreActivation).
  ScoreActivation score_activation = ScoreActivation::kSoftmax;
  // CAM, Grad-CAM and dense maps for this model (each knows whether the model supports it). Thread-safe.
  std::unique_ptr<const engine::localization::Localizer> localizer;
  // The model folder's configuration this version was loaded with (empty when the folder has none), and the version
  // policy the repository applies to the model (its version_policy, else --version-policy).
  std::shared_ptr<const ModelFolderConfig> folder_config = std::make_shared<const ModelFolderConfig>();
  VersionPolicy version_policy;

  // One image as the model takes it: [channels, height, width], or [height, width, channels] for an NHWC input.
  engine::Shape ImageShape() const;
};

// Reads an ONNX file into a Model with the settings and metadata overrides of its folder's configuration
// (modelio::LoadOnnxModel in the server; a fake in tests).
using ModelLoader = std::function<StatusOr<std::shared_ptr<const engine::Model>>(const std::string& path,
                                                                                 const ModelFolderConfig& config)>;

// name → version → model.
using ModelCatalog = std::map<std::string, std::map<int64_t, std::shared_ptr<const ServedModel>>>;

// The loaded versions of model `name` in `catalog`, oldest first (none when it is unknown): what every protocol's
// model description lists.
std::vector<int64_t> VersionsOf(const ModelCatalog& catalog, const std::string& name);

// Checks that `name` can name a model folder: 1..128 characters from [A-Za-z0-9._-], not starting with '.'. Rejects
// path tricks such as "../x" or "a/b" with INVALID_ARGUMENT.
Status ValidateModelName(std::string_view name);

// Wraps a loaded model for serving: resolves its input geometry, preprocessing and class count, creates its Session
// and runs one zero image through it so that a broken model fails here rather than on a request; then checks the
// inputs and outputs `folder_config` lists against the model (names, data types, dims).
StatusOr<std::shared_ptr<const ServedModel>> PrepareModel(
    std::string name, int64_t version, std::shared_ptr<const engine::Model> model,
    std::shared_ptr<const ModelFolderConfig> folder_config = std::make_shared<const ModelFolderConfig>(),
    VersionPolicy version_policy = {});

// Triton's name for an engine element type.
inference::DataType TritonDataType(engine::DataType dtype);

// The class count of an output holding one score per class, FP32 [N, K] or [N, K, 1, 1]; 0 for any other output.
int64_t ClassCount(const ServedOutput& output);
// The class count of an output holding a per-pixel class map, FP32 [N, C, H, W] with H or W above 1; 0 otherwise.
int64_t SegmentationClassCount(const ServedOutput& output);

// Runs `batch` ([n, channels, height, width]) through `model`'s Session and returns every graph output, each with n
// leading rows (INTERNAL otherwise).
StatusOr<std::vector<engine::Tensor>> RunServedModel(const ServedModel& model, const engine::Tensor& batch);

// OK when `model` is a classifier; otherwise FAILED_PRECONDITION saying what its first output is and that ModelInfer
// serves it, for the calls that need class scores (Classify, Localize).
Status RequireClassifier(const ServedModel& model);

// "model 'name' version N", the way logs and errors name one version.
std::string ModelTitle(const std::string& name, int64_t version);

class ModelRepository {
 public:
  // An empty repository that is not ready yet: Find answers UNAVAILABLE until the first Replace.
  ModelRepository();
  // A ready repository serving `catalog`.
  explicit ModelRepository(ModelCatalog catalog);

  // The model `name` at `version` (0 = the latest). INVALID_ARGUMENT for a bad name, NOT_FOUND for an unknown
  // model or version (the message lists what exists), UNAVAILABLE before the first catalog is in place.
  StatusOr<std::shared_ptr<const ServedModel>> Find(std::string_view name, int64_t version) const;

  // The current catalog snapshot.
  std::shared_ptr<const ModelCatalog> Snapshot() const;

  // Swaps in a new catalog atomically and marks the repository ready; requests holding models from the old one keep
  // them alive.
  void Replace(ModelCatalog catalog);

  // True once a catalog is in place (every model of it loaded and warmed up).
  bool ready() const;

  // Called with each new catalog after it is swapped in (on the thread that called Replace), e.g. to update metrics.
  using ReplaceListener = std::function<void(const ModelCatalog&)>;
  void SetReplaceListener(ReplaceListener listener);

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const ModelCatalog> catalog_;
  bool ready_ = false;
  ReplaceListener listener_;
};

// Number of model versions in `catalog`, over all models.
size_t CountVersions(const ModelCatalog& catalog);

}  // namespace fovea::server
