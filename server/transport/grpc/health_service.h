#pragma once
// HealthService: grpc.health.v1.Health for the server as a whole ("") and each API service. gRPC's default health
// service answers SERVING for "" from the moment the server starts listening, so a probe could see the server ready
// before its models were loaded; here every service starts NOT_SERVING and turns SERVING only when SetServing(true)
// says so. Shutdown() turns everything NOT_SERVING for good and ends the Watch streams, so they do not hold the
// server's shutdown up to its deadline.
//
// Threading: every member may be called from any thread; Check and Watch are gRPC's callback reactions.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "grpc/health/v1/health.grpc.pb.h"

namespace fovea::server {

class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Knows "" and `services` (full gRPC service names), all NOT_SERVING.
  explicit HealthService(const std::vector<std::string>& services);
  ~HealthService() override;

  // Every known service SERVING or NOT_SERVING; Watch streams see the change. No effect after Shutdown().
  void SetServing(bool serving);
  // Every known service NOT_SERVING from now on; each Watch stream gets that answer and then ends.
  void Shutdown();

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* context,
                                  const grpc::health::v1::HealthCheckRequest* request,
                                  grpc::health::v1::HealthCheckResponse* response) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* context, const grpc::health::v1::HealthCheckRequest* request) override;

 private:
  class Watcher;

  // The answer for `service`: its status, or SERVICE_UNKNOWN when the server does not know it.
  ServingStatus StatusOf(const std::string& service) const;
  // StatusOf(service) and whether Shutdown() has run, read at one instant.
  std::pair<ServingStatus, bool> StateOf(const std::string& service) const;
  // Lets every open Watch stream send the status it has not sent yet.
  void NotifyWatchers();
  void Forget(const Watcher* watcher);

  mutable std::mutex mutex_;
  std::map<std::string, ServingStatus> statuses_;
  bool shut_down_ = false;
  // The open Watch streams. A Watcher owns itself until gRPC's OnDone; weak pointers let NotifyWatchers keep one
  // alive while it writes, without holding mutex_ (gRPC may run a reaction inline in the calling thread).
  std::map<const Watcher*, std::weak_ptr<Watcher>> watchers_;
};

}  // namespace fovea::server
