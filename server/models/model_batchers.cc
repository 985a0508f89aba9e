#include "server/models/model_batchers.h"

#include <chrono>
#include <set>

#include <spdlog/spdlog.h>

#include "engine/threading.h"
#include "server/models/model_config.h"

namespace fovea::server {
namespace {

std::string TitleOf(const ServedModel& model) { return model.name + ":" + std::to_string(model.version); }

// Compiles the engine plan of every batch size the batcher will use, for the team size its instances run with, so
// that no request waits for a compilation (each costs as much as hundreds of runs). A failure here only means the
// plan is compiled on first use.
void WarmUp(const ServedModel& model, const std::vector<int64_t>& batch_sizes, int compute_threads) {
  const auto start = std::chrono::steady_clock::now();
  const engine::ScopedComputeThreads instance_team(compute_threads);
  for (int64_t size : batch_sizes) {
    engine::Shape shape = model.ImageShape();
    shape.insert(shape.begin(), size);
    if (StatusOr<std::shared_ptr<const engine::Plan>> plan = model.session->PlanFor({&shape, 1}); !plan.ok()) {
      spdlog::warn("model {}: cannot compile batch size {} ahead of time: {}", TitleOf(model), size,
                   plan.status().message());
    }
  }
  spdlog::info("model {}: compiled {} batch size(s) in {:.0f} ms", TitleOf(model), batch_sizes.size(),
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace

ModelBatchers::ModelBatchers(const ModelRepository& repository, std::filesystem::path repository_root,
                             BatchingOptions defaults, Metrics& metrics)
    : repository_(repository), repository_root_(std::move(repository_root)), defaults_(defaults), metrics_(metrics) {}

ModelBatchers::~ModelBatchers() { StopAll(); }

StatusOr<std::shared_ptr<Batcher>> ModelBatchers::For(const std::shared_ptr<const ServedModel>& model) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return Status(StatusCode::kUnavailable, "server is shutting down");
    const auto found = batchers_.find(model.get());
    if (found != batchers_.end()) return found->second;
  }
  // Created outside the lock: reading the config file and starting threads must not stall other models' requests.
  FOVEA_ASSIGN_OR_RETURN(std::shared_ptr<Batcher> created, Create(model));
  std::vector<std::shared_ptr<Batcher>> retired;
  std::shared_ptr<Batcher> batcher;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return Status(StatusCode::kUnavailable, "server is shutting down");
    // Two first requests may race; the first to get here wins and the other's batcher is released below.
    batcher = batchers_.try_emplace(model.get(), created).first->second;
    retired = TakeRetired();
  }
  return batcher;
}

std::shared_ptr<Batcher> ModelBatchers::Existing(const std::shared_ptr<const ServedModel>& model) {
  std::lock_guard lock(mutex_);
  if (stopped_) return nullptr;
  const auto found = batchers_.find(model.get());
  return found == batchers_.end() ? nullptr : found->second;
}

void ModelBatchers::CreateAll() {
  const std::shared_ptr<const ModelCatalog> catalog = repository_.Snapshot();
  for (const auto& [name, versions] : *catalog) {
    for (const auto& [version, model] : versions) {
      StatusOr<std::shared_ptr<Batcher>> batcher = For(model);
      if (!batcher.ok()) spdlog::error("model {}: {}", TitleOf(*model), batcher.status().message());
    }
  }
}

void ModelBatchers::StopAll() {
  std::map<const ServedModel*, std::shared_ptr<Batcher>> batchers;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    batchers.swap(batchers_);
  }
  for (auto& [model, batcher] : batchers) batcher->Stop();
}

StatusOr<BatchingOptions> ModelBatchers::OptionsFor(const ServedModel& model) const {
  return BatchingFor(*model.folder_config, defaults_);
}

StatusOr<std::shared_ptr<Batcher>> ModelBatchers::Create(const std::shared_ptr<const ServedModel>& model) const {
  FOVEA_ASSIGN_OR_RETURN(const BatchingOptions options, OptionsFor(*model));
  spdlog::info(
      "model {}: batching up to {} image(s), queue delay {} us, queue size {}, {} instance(s) x {} compute thread(s)",
      TitleOf(*model), options.max_batch_size, options.max_queue_delay_us, options.max_queue_size, options.instances,
      options.compute_threads);
  auto batcher = std::make_shared<Batcher>(
      TitleOf(*model), model->ImageShape(), options,
      [model](const engine::Tensor& batch) { return RunServedModel(*model, batch); },
      &metrics_.ForModel(model->name, model->version));
  WarmUp(*model, batcher->BatchSizes(), options.compute_threads);
  return batcher;
}

std::vector<std::shared_ptr<Batcher>> ModelBatchers::TakeRetired() {
  const std::shared_ptr<const ModelCatalog> catalog = repository_.Snapshot();
  std::set<const ServedModel*> current;
  for (const auto& [name, versions] : *catalog) {
    for (const auto& [version, model] : versions) current.insert(model.get());
  }
  std::vector<std::shared_ptr<Batcher>> retired;
  for (auto it = batchers_.begin(); it != batchers_.end();) {
    if (current.count(it->first) != 0) {
      ++it;
      continue;
    }
    retired.push_back(std::move(it->second));
    it = batchers_.erase(it);
  }
  return retired;
}

}  // namespace fovea::server
