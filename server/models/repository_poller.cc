#include "server/models/repository_poller.h"

#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <system_error>

#include <spdlog/spdlog.h>

#include "server/models/model_config.h"

namespace fovea::server {
namespace {

constexpr char kModelFileName[] = "model.onnx";
constexpr int64_t kNanosPerSecond = 1000000000;

// A version folder's name as a positive integer, or 0 when it is not one.
int64_t ParseVersion(const std::string& text) {
  int64_t version = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (error != std::errc() || end != text.data() + text.size() || version <= 0) return 0;
  return version;
}

// The stamp of a regular file, or nullopt when `path` is not one.
std::optional<FileStamp> StampOf(const std::filesystem::path& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) return std::nullopt;
  return FileStamp{info.st_dev,  info.st_ino,
                   info.st_size, static_cast<int64_t>(info.st_mtim.tv_sec) * kNanosPerSecond + info.st_mtim.tv_nsec,
                   {},           {}};
}

// The stamps of the regular files at the top of a model folder, sorted by name.
std::vector<FileStamp::FolderFile> FolderFilesOf(const std::filesystem::path& model_folder) {
  std::vector<FileStamp::FolderFile> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(model_folder, error)) {
    if (const std::optional<FileStamp> stamp = StampOf(entry.path())) {
      files.push_back({entry.path().filename().string(), stamp->inode, stamp->size, stamp->mtime_ns});
    }
  }
  std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return files;
}

// "10 classes", or the outputs' names and shapes for a model that is not a classifier.
std::string DescribeOutputs(const ServedModel& model) {
  if (model.num_classes > 0) return std::to_string(model.num_classes) + " classes";
  std::string outputs;
  for (const ServedOutput& output : model.outputs) {
    outputs += (outputs.empty() ? "outputs " : ", ") + output.name + " " + engine::ShapeToString(output.shape);
  }
  return outputs;
}

}  // namespace

VersionLoader PreparingLoader(ModelLoader loader, VersionPolicy server_policy) {
  return [loader = std::move(loader), server_policy = std::move(server_policy)](
             const std::string& name, int64_t version, const std::string& path,
             const std::string& config_json) -> StatusOr<std::shared_ptr<const ServedModel>> {
    const std::filesystem::path model_folder = std::filesystem::path(path).parent_path().parent_path();
    FOVEA_ASSIGN_OR_RETURN(ModelFolderConfig folder, LoadModelFolderConfig(model_folder, config_json));
    LogNotImplementedOnce(name, folder);
    FOVEA_ASSIGN_OR_RETURN(std::shared_ptr<const engine::Model> model, loader(path, folder));
    VersionPolicy policy = VersionPolicyFor(folder, server_policy);
    return PrepareModel(name, version, std::move(model), std::make_shared<const ModelFolderConfig>(std::move(folder)),
                        std::move(policy));
  };
}

RepositoryPoller::RepositoryPoller(std::filesystem::path root, VersionPolicy policy, VersionLoader loader,
                                   ModelRepository& repository)
    : root_(std::move(root)), policy_(std::move(policy)), loader_(std::move(loader)), repository_(repository) {}

RepositoryPoller::~RepositoryPoller() { Stop(); }

StatusOr<RepositoryPoller::Listing> RepositoryPoller::List() {
  std::error_code error;
  if (!std::filesystem::is_directory(root_, error)) {
    return NotFound("model repository " + root_.string() + " is not a directory");
  }
  Listing listing;
  std::set<std::string> skipped;
  const auto skip = [&](const std::filesystem::path& path, const char* why) {
    if (!warned_.contains(path.string())) spdlog::warn("model repository: skipping {} ({})", path.string(), why);
    skipped.insert(path.string());
  };
  // Advancing a directory_iterator throws on a read error; the poller thread must survive a folder that changes or
  // vanishes under it, so that becomes an error status and the next pass tries again.
  try {
    ListInto(listing, skip, error);
  } catch (const std::filesystem::filesystem_error& failure) {
    return NotFound("model repository " + root_.string() + " cannot be read: " + failure.what());
  }
  if (error) return NotFound("model repository " + root_.string() + " cannot be read: " + error.message());
  warned_ = std::move(skipped);
  return listing;
}

void RepositoryPoller::ListInto(Listing& listing, const SkipFn& skip, std::error_code& error) const {
  for (const auto& model_entry : std::filesystem::directory_iterator(root_, error)) {
    const std::string name = model_entry.path().filename().string();
    if (served_names_ && !served_names_->contains(name)) continue;  // explicit control: not loaded
    std::error_code entry_error;
    if (!model_entry.is_directory(entry_error) || !ValidateModelName(name).ok()) {
      skip(model_entry.path(), "not a model folder");
      continue;
    }
    const std::vector<FileStamp::FolderFile> folder_files = FolderFilesOf(model_entry.path());
    const auto override = config_overrides_.find(name);
    std::error_code folder_error;
    for (const auto& entry : std::filesystem::directory_iterator(model_entry.path(), folder_error)) {
      if (!entry.is_directory(entry_error)) continue;  // config.pbtxt, labels.txt, README, ...
      const int64_t version = ParseVersion(entry.path().filename().string());
      std::optional<FileStamp> stamp = StampOf(entry.path() / kModelFileName);
      if (version == 0 || !stamp) {
        skip(entry.path(), "not <positive version>/model.onnx");
        continue;
      }
      stamp->folder_files = folder_files;
      if (override != config_overrides_.end()) stamp->config_json = override->second;
      listing[name][version] = {entry.path() / kModelFileName, *stamp};
    }
  }
}

StatusOr<std::shared_ptr<const ServedModel>> RepositoryPoller::LoadGuarded(const std::string& name, int64_t version,
                                                                           const VersionFile& file) const {
  // A model file is untrusted input and the poller thread must outlive any one of them (e.g. bad_alloc on a file
  // claiming huge tensors).
  try {
    return loader_(name, version, file.path.string(), file.stamp.config_json);
  } catch (const std::exception& failure) {
    return Internal(std::string("loading threw: ") + failure.what());
  }
}

const RepositoryPoller::LoadedVersion* RepositoryPoller::Resolve(const std::string& name, int64_t version,
                                                                 const VersionFile& file, LoadedVersion& fresh) {
  const LoadedVersion* previous = nullptr;
  if (const auto model = loaded_.find(name); model != loaded_.end()) {
    if (const auto found = model->second.find(version); found != model->second.end()) previous = &found->second;
  }
  if (previous != nullptr && previous->stamp == file.stamp) return previous;
  const std::pair<std::string, int64_t> key{name, version};
  if (const auto failed = failed_.find(key); failed != failed_.end() && failed->second.stamp == file.stamp) {
    return previous;  // already reported; wait for the file to change
  }
  StatusOr<std::shared_ptr<const ServedModel>> served = LoadGuarded(name, version, file);
  if (!served.ok()) {
    spdlog::error("model repository: {} not loaded: {}{}", file.path.string(), served.status().ToString(),
                  previous != nullptr ? "; the copy loaded before keeps serving" : "");
    failed_[key] = {file.stamp, served.status().message()};
    return previous;
  }
  failed_.erase(key);
  fresh = {file.stamp, std::move(*served)};
  spdlog::info("model repository: {} {} ({}x{}x{} input, {})", previous != nullptr ? "reloaded" : "loaded",
               ModelTitle(name, version), fresh.model->channels, fresh.model->height, fresh.model->width,
               DescribeOutputs(*fresh.model));
  return &fresh;
}

VersionPolicy RepositoryPoller::PolicyFor(const std::string& name) const {
  const auto override = config_overrides_.find(name);
  const StatusOr<ModelFolderConfig> folder =
      LoadModelFolderConfig(root_ / name, override == config_overrides_.end() ? "" : override->second);
  return folder.ok() ? VersionPolicyFor(*folder, policy_) : policy_;
}

RepositoryPoller::LoadedModels RepositoryPoller::Reconcile(const Listing& listing) {
  LoadedModels next;
  for (const auto& [name, files] : listing) {
    const VersionPolicy policy = PolicyFor(name);
    std::map<int64_t, LoadedVersion> versions;
    // Newest first, so latest:N takes the N highest versions that load. (Reverse iterators rather than
    // std::views::reverse, which clang 14 cannot compile with libstdc++ 12: the fuzz and sanitizer builds use clang.)
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
      const auto& [version, file] = *it;
      if (!policy.WantsMore(static_cast<int64_t>(versions.size()))) break;
      if (!policy.Allows(version)) continue;
      LoadedVersion fresh;
      if (const LoadedVersion* chosen = Resolve(name, version, file, fresh)) versions[version] = *chosen;
    }
    if (!versions.empty()) next[name] = std::move(versions);
  }
  return next;
}

void RepositoryPoller::ForgetFailures(const Listing& listing) {
  std::erase_if(failed_, [&](const auto& failure) {
    const auto model = listing.find(failure.first.first);
    return model == listing.end() || !model->second.contains(failure.first.second);
  });
}

void RepositoryPoller::LogUnloaded(const LoadedModels& next) const {
  for (const auto& [name, versions] : loaded_) {
    const auto kept = next.find(name);
    for (const auto& [version, loaded] : versions) {
      if (kept == next.end() || !kept->second.contains(version)) {
        spdlog::info("model repository: unloaded {}", ModelTitle(name, version));
      }
    }
  }
}

Status RepositoryPoller::Sync() {
  std::lock_guard lock(sync_mutex_);
  return SyncLocked();
}

void RepositoryPoller::ControlExplicitly(std::set<std::string> names) {
  std::lock_guard lock(sync_mutex_);
  served_names_ = std::move(names);
}

bool RepositoryPoller::explicit_control() const {
  std::lock_guard lock(sync_mutex_);
  return served_names_.has_value();
}

std::vector<IndexEntry> RepositoryPoller::Index() const {
  std::lock_guard lock(sync_mutex_);
  std::map<std::pair<std::string, int64_t>, IndexEntry> rows;
  for (const auto& [name, versions] : loaded_) {
    for (const auto& [version, loaded] : versions) rows[{name, version}] = {name, version, "READY", ""};
  }
  for (const auto& [key, failure] : failed_) {
    if (!rows.contains(key)) rows[key] = {key.first, key.second, "UNAVAILABLE", failure.reason};
  }
  std::set<std::string> listed;
  for (const auto& [key, row] : rows) listed.insert(key.first);
  if (served_names_) {
    // The index is best effort: a folder that cannot be read leaves out the models not loaded, nothing else.
    try {
      std::error_code error;
      for (const auto& entry : std::filesystem::directory_iterator(root_, error)) {
        const std::string name = entry.path().filename().string();
        std::error_code entry_error;
        if (entry.is_directory(entry_error) && ValidateModelName(name).ok() && !listed.contains(name)) {
          rows[{name, 0}] = {name, 0, "", ""};
        }
      }
    } catch (const std::filesystem::filesystem_error& failure) {
      spdlog::warn("model repository index: {}", failure.what());
    }
  }
  std::vector<IndexEntry> index;
  index.reserve(rows.size());
  for (auto& [key, row] : rows) index.push_back(std::move(row));
  return index;
}

Status RepositoryPoller::RequireExplicitControl(const char* action, const std::string& name) const {
  if (served_names_) return OkStatus();
  return FailedPrecondition(std::string(action) + " model '" + name +
                            "' by request needs --model-control-mode explicit; this server serves every model folder "
                            "of its repository");
}

Status RepositoryPoller::Load(const std::string& name, const std::string& config_json) {
  FOVEA_RETURN_IF_ERROR(ValidateModelName(name));
  std::lock_guard lock(sync_mutex_);
  FOVEA_RETURN_IF_ERROR(RequireExplicitControl("loading", name));
  std::error_code error;
  if (!std::filesystem::is_directory(root_ / name, error)) {
    return NotFound("failed to load '" + name + "': the model repository has no folder '" + name + "'");
  }
  const bool was_served = served_names_->contains(name);
  const auto previous = config_overrides_.find(name);
  const std::optional<std::string> previous_config =
      previous == config_overrides_.end() ? std::nullopt : std::optional<std::string>(previous->second);
  served_names_->insert(name);
  if (config_json.empty()) {
    config_overrides_.erase(name);
  } else {
    config_overrides_[name] = config_json;
  }
  FOVEA_RETURN_IF_ERROR(SyncLocked());
  if (!config_json.empty()) {
    if (std::string reasons = FailureReasons(name, &config_json); !reasons.empty()) {
      // The configuration the request gave does not load: the one before stays in force.
      if (previous_config) {
        config_overrides_[name] = *previous_config;
      } else {
        config_overrides_.erase(name);
      }
      if (!was_served) served_names_->erase(name);
      // Answered to the requester; kept, the failure would be reported again for a state no longer asked for.
      std::erase_if(failed_, [&](const auto& failure) {
        return failure.first.first == name && failure.second.stamp.config_json == config_json;
      });
      FOVEA_RETURN_IF_ERROR(SyncLocked());
      return FailedPrecondition("failed to load '" + name + "' with the request's config: " + reasons);
    }
  }
  if (loaded_.contains(name)) {
    spdlog::info("model repository: model '{}' loaded by request{}", name,
                 config_json.empty() ? "" : " with the configuration it gave");
    return OkStatus();
  }
  if (!was_served) served_names_->erase(name);
  const std::string reasons = FailureReasons(name);
  return FailedPrecondition("failed to load '" + name + "': " +
                            (reasons.empty() ? "no <version>/model.onnx that the version policy allows" : reasons));
}

std::string RepositoryPoller::FailureReasons(const std::string& name, const std::string* config_json) const {
  std::string reasons;
  for (const auto& [key, failure] : failed_) {
    if (key.first != name || (config_json != nullptr && failure.stamp.config_json != *config_json)) continue;
    reasons += (reasons.empty() ? "" : "; ") + ModelTitle(name, key.second) + ": " + failure.reason;
  }
  return reasons;
}

Status RepositoryPoller::Unload(const std::string& name) {
  FOVEA_RETURN_IF_ERROR(ValidateModelName(name));
  std::lock_guard lock(sync_mutex_);
  FOVEA_RETURN_IF_ERROR(RequireExplicitControl("unloading", name));
  if (!served_names_->erase(name) || !loaded_.contains(name)) {
    return NotFound("model '" + name + "' is not loaded");
  }
  config_overrides_.erase(name);
  return SyncLocked();
}

Status RepositoryPoller::SyncLocked() {
  StatusOr<Listing> listing = List();
  if (!listing.ok()) {
    if (listing.status().message() != last_error_) spdlog::error("{}", listing.status().ToString());
    last_error_ = listing.status().message();
    return listing.status();
  }
  last_error_.clear();
  LoadedModels next = Reconcile(*listing);
  ModelCatalog catalog;
  for (const auto& [name, versions] : next) {
    for (const auto& [version, loaded] : versions) catalog[name][version] = loaded.model;
  }
  repository_.Replace(std::move(catalog));
  LogUnloaded(next);
  // The old map goes here: a version only it held is freed now, or by the last request still using it.
  loaded_ = std::move(next);
  ForgetFailures(*listing);
  return OkStatus();
}

void RepositoryPoller::Start(std::chrono::milliseconds interval) {
  std::lock_guard lock(stop_mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this, interval] {
    std::unique_lock wait_lock(stop_mutex_);
    while (!stop_wake_.wait_for(wait_lock, interval, [this] { return stopping_; })) {
      wait_lock.unlock();
      (void)Sync();  // failures are logged inside; the next pass tries again
      wait_lock.lock();
    }
  });
}

void RepositoryPoller::Stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
  }
  stop_wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace fovea::server
