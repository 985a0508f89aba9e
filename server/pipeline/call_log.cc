#include "server/pipeline/call_log.h"

#include <spdlog/spdlog.h>

#include "server/ops/logging.h"
#include "server/transport/grpc/grpc_status.h"

namespace fovea::server {
namespace {

constexpr char kRequestIdKey[] = "x-request-id";

}  // namespace

CallLog StartCall(grpc::CallbackServerContext* context, const char* method, Metrics& metrics) {
  const auto& metadata = context->client_metadata();
  const auto found = metadata.find(kRequestIdKey);
  const std::string client_id = found == metadata.end() ? "" : std::string(found->second.data(), found->second.size());
  CallLog log = StartCall(client_id, method, metrics);
  context->AddInitialMetadata(kRequestIdKey, log.request_id);
  return log;
}

CallLog StartCall(const std::string& client_request_id, const char* method, Metrics& metrics) {
  return {RequestIdFrom(client_request_id), method, std::chrono::steady_clock::now(), &metrics, "", 0};
}

std::chrono::steady_clock::time_point SteadyDeadline(const grpc::CallbackServerContext* context) {
  const std::chrono::system_clock::time_point deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return std::chrono::steady_clock::time_point::max();
  const auto remaining = deadline - std::chrono::system_clock::now();
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining);
}

bool LogsCallDetail() { return spdlog::should_log(spdlog::level::info); }

void RecordCall(const CallLog& log, const Status& status, const std::string& detail) {
  const std::chrono::duration<double, std::micro> elapsed = std::chrono::steady_clock::now() - log.start;
  log.metrics->RecordRequest(log.model, log.model_version, log.method, status.code(), elapsed.count());
  const double elapsed_ms = elapsed.count() / 1000.0;
  if (status.ok()) {
    spdlog::info("[{}] {} OK {} ({:.1f} ms)", log.request_id, log.method, detail, elapsed_ms);
  } else {
    spdlog::warn("[{}] {} {}: {} ({:.1f} ms)", log.request_id, log.method, StatusCodeName(status.code()),
                 status.message(), elapsed_ms);
  }
}

void FinishCall(grpc::ServerUnaryReactor* reactor, const CallLog& log, const Status& status,
                const std::string& detail) {
  RecordCall(log, status, detail);
  reactor->Finish(ToGrpcStatus(status));
}

}  // namespace fovea::server
