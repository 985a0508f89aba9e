#pragma once
// ModelBatchers: one Batcher per served model version, created on first use with the server's batching defaults
// overridden by the configuration the version was loaded with (config.pbtxt or config.txt,
// server/models/model_config.h).
//
// Ownership: the registry holds a shared_ptr to each Batcher, and each Batcher's run function holds the
// ServedModel it runs, so a model stays alive while its batcher can still run it. When a version leaves the
// repository (a reload), the registry drops its reference on the next creation of a batcher; callers that still hold
// one finish their Submit, and the last holder's release stops the Batcher after it answered its queue. Batcher
// threads never hold a Batcher reference, so that release never happens on the Batcher's own thread.

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include "server/models/batcher.h"
#include "server/models/model_repository.h"
#include "server/ops/metrics.h"

namespace fovea::server {

class ModelBatchers {
 public:
  // `repository` and `metrics` are borrowed and must outlive this object; model folders are `repository_root`/<name>.
  ModelBatchers(const ModelRepository& repository, std::filesystem::path repository_root, BatchingOptions defaults,
                Metrics& metrics);
  ~ModelBatchers();
  ModelBatchers(const ModelBatchers&) = delete;
  ModelBatchers& operator=(const ModelBatchers&) = delete;

  // The batcher of `model`, created on first use. UNAVAILABLE after StopAll().
  StatusOr<std::shared_ptr<Batcher>> For(const std::shared_ptr<const ServedModel>& model);

  // The batcher of `model` when it exists already (nullptr otherwise, or after StopAll()): a lookup that never
  // creates one, for callers that must not block.
  std::shared_ptr<Batcher> Existing(const std::shared_ptr<const ServedModel>& model);

  // How `model` batches: the server's defaults overridden by its configuration (read and checked when it loaded, so
  // this does not fail today; the status stays for callers).
  StatusOr<BatchingOptions> OptionsFor(const ServedModel& model) const;

  // Creates the batchers of every model in the repository now (start-up), logging each one's settings and any
  // invalid config file.
  void CreateAll();

  // Stops every batcher after it answered its queue; later For() calls fail. Idempotent.
  void StopAll();

 private:
  StatusOr<std::shared_ptr<Batcher>> Create(const std::shared_ptr<const ServedModel>& model) const;
  // Removes (and returns, to be released outside the lock) the batchers of models no longer in the repository.
  std::vector<std::shared_ptr<Batcher>> TakeRetired();

  const ModelRepository& repository_;
  const std::filesystem::path repository_root_;
  const BatchingOptions defaults_;
  Metrics& metrics_;

  std::mutex mutex_;
  bool stopped_ = false;
  std::map<const ServedModel*, std::shared_ptr<Batcher>> batchers_;
};

}  // namespace fovea::server
