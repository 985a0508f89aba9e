#pragma once
// CallLog: the request id, log lines and final status every unary RPC of every service shares.

#include <chrono>
#include <string>

#include <grpcpp/grpcpp.h>

#include "engine/status.h"

namespace fovea::server {

// What every call logs: its id (sent back as `x-request-id` initial metadata), method and start time.
struct CallLog {
  std::string request_id;
  const char* method;
  std::chrono::steady_clock::time_point start;
};

// Starts the log of a call: picks its request id and adds it to the initial metadata.
CallLog StartCall(grpc::CallbackServerContext* context, const char* method);

// Logs the outcome (with `detail` on success) and finishes the call with `status` mapped to gRPC.
void FinishCall(grpc::ServerUnaryReactor* reactor, const CallLog& log, const Status& status, const std::string& detail);

}  // namespace fovea::server
