#pragma once
// RepositoryPoller: keeps a ModelRepository in step with its folder, `<root>/<name>/<version>/model.onnx`.
//
// Each Sync() lists the folder, applies the version policy and loads (and warms up) every new or changed version
// BEFORE it swaps the next catalog in, so requests never see a model that is still loading. A version whose file
// fails to load is logged once per change of that file and skipped: the previously loaded copy of that version, or
// the next older version under latest:N, keeps serving, and the file is tried again when it changes. Versions the
// next catalog no longer holds are released after the swap; requests in flight keep them alive through their
// shared_ptr. Sync() runs once at start-up and then every poll interval on the poller's own thread.
//
// Model control (Triton's --model-control-mode): by default every model folder is served. Under explicit control only
// the models named at start-up and loaded since by Load() are: Load() adds a model and syncs at once (re-reading it
// if it changed), Unload() removes one and syncs; the server then does not poll in the background.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "server/models/model_repository.h"
#include "server/models/version_policy.h"

namespace fovea::server {

// Loads and warms up one version from its file. The server composes its ONNX loader with PrepareModel
// (PreparingLoader); unit tests pass a fake.
// `config_json` is the configuration a RepositoryModelLoad request gave (a ModelConfig in JSON), empty for the model
// folder's own.
using VersionLoader = std::function<StatusOr<std::shared_ptr<const ServedModel>>(
    const std::string& name, int64_t version, const std::string& path, const std::string& config_json)>;

// A VersionLoader that reads the model folder's configuration (server/models/model_config.h; an error there fails the
// load), logs the fields it does not implement once, reads the file with `loader` and then runs PrepareModel
// (geometry checks, a warm-up run, the configuration checked against the model). `server_policy` is the version policy
// of models whose configuration sets none.
VersionLoader PreparingLoader(ModelLoader loader, VersionPolicy server_policy = {});

// What identifies one state of a model file: a rename puts a new inode in place, an in-place write changes the size
// or the modification time. `folder_files` is the same for every regular file at the top of the model folder
// (config.pbtxt or config.txt, the labels file, ...; sorted by name), so editing the configuration or the labels
// reloads the model's versions too, as Triton's poll mode does. `config_json` is the configuration a load request
// gave instead of the folder's (empty when none): loading with another one reloads.
struct FileStamp {
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  int64_t mtime_ns = 0;
  struct FolderFile {
    std::string name;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FolderFile&) const = default;
  };
  std::vector<FolderFile> folder_files;
  std::string config_json;
  bool operator==(const FileStamp&) const = default;
};

// One row of the repository index (Triton's RepositoryIndex).
struct IndexEntry {
  std::string name;
  int64_t version = 0;  // 0: a model folder with no version to report
  std::string state;    // "READY", "UNAVAILABLE", or "" for a model not loaded under explicit control
  std::string reason;   // why a version is UNAVAILABLE
};

class RepositoryPoller {
 public:
  // `repository` is borrowed and must outlive the poller.
  RepositoryPoller(std::filesystem::path root, VersionPolicy policy, VersionLoader loader, ModelRepository& repository);
  ~RepositoryPoller();  // Stop()s the thread
  RepositoryPoller(const RepositoryPoller&) = delete;
  RepositoryPoller& operator=(const RepositoryPoller&) = delete;

  // One pass over the folder (see the file comment). Fails, leaving the catalog as it is, only when the root cannot
  // be listed; the failure is logged once until it changes.
  Status Sync();

  // Switches to explicit model control, serving only `names` (each a model folder name) from the next Sync() on.
  void ControlExplicitly(std::set<std::string> names);
  bool explicit_control() const;

  // Explicit control only (FAILED_PRECONDITION naming the mode otherwise): serves model `name` from now on, loading
  // every version its policy allows before returning. NOT_FOUND when the repository has no such folder;
  // FAILED_PRECONDITION with the loader's reason when no version of it loads. A non-empty `config_json` (a
  // ModelConfig in JSON) replaces the folder's configuration until the model is unloaded or loaded again without one,
  // as Triton's "config" load parameter does; when a version fails with it, the previous configuration stays in force
  // (and the copies loaded with it keep serving) and the answer is FAILED_PRECONDITION with the reason.
  Status Load(const std::string& name, const std::string& config_json = {});
  // Explicit control only: stops serving model `name` (requests in flight finish). NOT_FOUND when it is not loaded.
  Status Unload(const std::string& name);

  // What the last Sync() found, by name and version: every served version READY; every version whose file failed to
  // load and that nothing serves UNAVAILABLE with the loader's message; under explicit control, every other model
  // folder with no version and no state (Triton lists models that are not loaded the same way).
  std::vector<IndexEntry> Index() const;

  // Calls Sync() every `interval` on a background thread until Stop().
  void Start(std::chrono::milliseconds interval);
  // Stops the thread after the pass in progress, if any. Idempotent.
  void Stop();

 private:
  struct LoadedVersion {
    FileStamp stamp;
    std::shared_ptr<const ServedModel> model;
  };
  using LoadedModels = std::map<std::string, std::map<int64_t, LoadedVersion>>;
  struct VersionFile {
    std::filesystem::path path;
    FileStamp stamp;
  };
  using Listing = std::map<std::string, std::map<int64_t, VersionFile>>;

  using SkipFn = std::function<void(const std::filesystem::path& path, const char* why)>;

  // OK under explicit control; otherwise FAILED_PRECONDITION saying that `action` ("loading") of `name` needs it.
  // Caller holds sync_mutex_.
  Status RequireExplicitControl(const char* action, const std::string& name) const;
  // Sync() with sync_mutex_ held.
  Status SyncLocked();
  StatusOr<Listing> List();
  // Walks the folders into `listing`; `skip` reports what is not a model version. May throw filesystem_error.
  void ListInto(Listing& listing, const SkipFn& skip, std::error_code& error) const;
  // The loader, with any exception it throws turned into an INTERNAL status.
  StatusOr<std::shared_ptr<const ServedModel>> LoadGuarded(const std::string& name, int64_t version,
                                                           const VersionFile& file) const;
  // "<name> version <v>: <reason>; ..." for the versions of `name` whose current state failed to load, those loaded
  // with `config_json` only; empty when none did.
  std::string FailureReasons(const std::string& name, const std::string* config_json = nullptr) const;
  LoadedModels Reconcile(const Listing& listing);
  // The version policy of model `name`: its configuration's, else the server's (also when the configuration cannot
  // be read: loading reports that error).
  VersionPolicy PolicyFor(const std::string& name) const;
  // The copy of `name`:`version` to serve for `file`: the loaded one when the file is unchanged, else a fresh load,
  // else (the file is broken) the loaded one if any. nullptr when there is nothing to serve.
  const LoadedVersion* Resolve(const std::string& name, int64_t version, const VersionFile& file, LoadedVersion& fresh);
  void ForgetFailures(const Listing& listing);
  void LogUnloaded(const LoadedModels& next) const;

  const std::filesystem::path root_;
  const VersionPolicy policy_;
  const VersionLoader loader_;
  ModelRepository& repository_;

  mutable std::mutex sync_mutex_;  // one Sync() at a time; guards the members below
  LoadedModels loaded_;            // what the current catalog holds, with the file stamps it was loaded from
  struct Failure {
    FileStamp stamp;
    std::string reason;
  };
  std::map<std::pair<std::string, int64_t>, Failure> failed_;  // file states that failed (already logged)
  std::optional<std::set<std::string>> served_names_;          // explicit control: the models to serve
  std::map<std::string, std::string> config_overrides_;        // model name -> the config its load request gave
  std::set<std::string> warned_;                               // skipped paths already logged
  std::string last_error_;                                     // the last root listing error logged

  std::mutex stop_mutex_;
  std::condition_variable stop_wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fovea::server
