#include "server/call_log.h"

#include <spdlog/spdlog.h>

#include "server/grpc_status.h"
#include "server/logging.h"

namespace fovea::server {
namespace {

constexpr char kRequestIdKey[] = "x-request-id";

}  // namespace

CallLog StartCall(grpc::CallbackServerContext* context, const char* method) {
  const auto& metadata = context->client_metadata();
  const auto found = metadata.find(kRequestIdKey);
  const std::string client_id = found == metadata.end() ? "" : std::string(found->second.data(), found->second.size());
  CallLog log{RequestIdFrom(client_id), method, std::chrono::steady_clock::now()};
  context->AddInitialMetadata(kRequestIdKey, log.request_id);
  return log;
}

void FinishCall(grpc::ServerUnaryReactor* reactor, const CallLog& log, const Status& status,
                const std::string& detail) {
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - log.start).count();
  if (status.ok()) {
    spdlog::info("[{}] {} OK {} ({:.1f} ms)", log.request_id, log.method, detail, elapsed_ms);
  } else {
    spdlog::warn("[{}] {} {}: {} ({:.1f} ms)", log.request_id, log.method, StatusCodeName(status.code()),
                 status.message(), elapsed_ms);
  }
  reactor->Finish(ToGrpcStatus(status));
}

}  // namespace fovea::server
