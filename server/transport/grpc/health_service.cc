#include "server/transport/grpc/health_service.h"

#include <optional>
#include <utility>

namespace fovea::server {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch stream: sends the watched service's status whenever it differs from the last one sent, one write at a
// time, and ends (OK) after it has sent NOT_SERVING once the service is shut down. No lock is held while gRPC is
// called, because gRPC may run OnWriteDone or OnDone inline in the calling thread.
class HealthService::Watcher final : public grpc::ServerWriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService& service, std::string name) : service_(service), name_(std::move(name)) {}

  // Keeps the watcher alive until gRPC is done with it.
  void Own(std::shared_ptr<Watcher> self) { self_ = std::move(self); }

  // Starts the next write, or the finish, if one is due and nothing is in flight.
  void Pump() {
    enum class Step { kNone, kWrite, kFinish } step = Step::kNone;
    grpc::Status finish_status = grpc::Status::OK;
    {
      std::lock_guard lock(mutex_);
      if (writing_ || finishing_) return;
      // Status and shutdown read together: a Shutdown() between two reads would end the stream before its
      // NOT_SERVING was sent.
      const auto [status, shut_down] = service_.StateOf(name_);
      if (!cancelled_ && status != last_sent_) {
        writing_ = true;
        last_sent_ = status;
        response_.set_status(status);
        step = Step::kWrite;
      } else if (cancelled_ || shut_down) {
        finishing_ = true;
        if (cancelled_) finish_status = grpc::Status::CANCELLED;
        step = Step::kFinish;
      }
    }
    if (step == Step::kWrite) StartWrite(&response_);
    if (step == Step::kFinish) Finish(finish_status);
  }

  void OnWriteDone(bool ok) override {
    {
      std::lock_guard lock(mutex_);
      writing_ = false;
      if (!ok) cancelled_ = true;  // the stream broke: nothing more can be written
    }
    Pump();
  }

  void OnCancel() override {
    {
      std::lock_guard lock(mutex_);
      cancelled_ = true;
    }
    Pump();
  }

  void OnDone() override {
    service_.Forget(this);
    const std::shared_ptr<Watcher> last_owner = std::move(self_);  // may be the last reference: frees this on return
  }

 private:
  HealthService& service_;
  const std::string name_;
  std::shared_ptr<Watcher> self_;
  std::mutex mutex_;
  HealthCheckResponse response_;  // the write in flight
  bool writing_ = false;
  bool finishing_ = false;
  bool cancelled_ = false;
  std::optional<ServingStatus> last_sent_;
};

HealthService::HealthService(const std::vector<std::string>& services) {
  statuses_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& service : services) statuses_[service] = HealthCheckResponse::NOT_SERVING;
}

HealthService::~HealthService() = default;

void HealthService::SetServing(bool serving) {
  {
    std::lock_guard lock(mutex_);
    if (shut_down_) return;
    for (auto& [service, status] : statuses_) {
      status = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
    }
  }
  NotifyWatchers();
}

void HealthService::Shutdown() {
  {
    std::lock_guard lock(mutex_);
    shut_down_ = true;
    for (auto& [service, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  }
  NotifyWatchers();
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* context, const HealthCheckRequest* request,
                                               HealthCheckResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const ServingStatus status = StatusOf(request->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no service '" + request->service() +
                                                                  "' on this server; ask about \"\" (the server "
                                                                  "as a whole) or a service that reflection lists"));
    return reactor;
  }
  response->set_status(status);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(grpc::CallbackServerContext* /*context*/,
                                                                    const HealthCheckRequest* request) {
  auto watcher = std::make_shared<Watcher>(*this, request->service());
  watcher->Own(watcher);
  {
    std::lock_guard lock(mutex_);
    watchers_.emplace(watcher.get(), watcher);
  }
  watcher->Pump();  // the current status first, as the protocol asks
  return watcher.get();
}

HealthService::ServingStatus HealthService::StatusOf(const std::string& service) const {
  return StateOf(service).first;
}

std::pair<HealthService::ServingStatus, bool> HealthService::StateOf(const std::string& service) const {
  std::lock_guard lock(mutex_);
  const auto found = statuses_.find(service);
  return {found == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : found->second, shut_down_};
}

void HealthService::NotifyWatchers() {
  std::vector<std::shared_ptr<Watcher>> open;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, watcher] : watchers_) {
      if (std::shared_ptr<Watcher> alive = watcher.lock()) open.push_back(std::move(alive));
    }
  }
  for (const std::shared_ptr<Watcher>& watcher : open) watcher->Pump();
}

void HealthService::Forget(const Watcher* watcher) {
  std::lock_guard lock(mutex_);
  watchers_.erase(watcher);
}

}  // namespace fovea::server
