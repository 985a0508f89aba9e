#pragma once
// CallLog: the request id, log lines and final status every unary RPC of every service shares.

#include <chrono>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"
#include "server/ops/metrics.h"

namespace fovea::server {

// What every call logs and counts: its id (sent back as `x-request-id` initial metadata), method, start time, and
// the model it was served by ("" until one is found, so unknown names never become metric labels).
struct CallLog {
  std::string request_id;
  const char* method;
  std::chrono::steady_clock::time_point start;
  Metrics* metrics;  // borrowed; outlives every call
  std::string model;
  int64_t model_version = 0;  // of the model found; 0 until then
};

// Starts the log of a call: picks its request id and adds it to the initial metadata.
CallLog StartCall(grpc::CallbackServerContext* context, const char* method, Metrics& metrics);

// Starts the log of a call that did not come through gRPC (the REST port): `client_request_id` is the client's
// x-request-id header ("" when it sent none).
CallLog StartCall(const std::string& client_request_id, const char* method, Metrics& metrics);

// The call's deadline on the steady clock (the batcher's); time_point::max() when the client set none.
std::chrono::steady_clock::time_point SteadyDeadline(const grpc::CallbackServerContext* context);

// Whether RecordCall logs the `detail` of a successful call (info level enabled): per-request summaries are built
// only then, so a server running at warn level does not format strings it throws away.
bool LogsCallDetail();

// Logs and counts the outcome of a call (with `detail` on success), whatever its transport.
void RecordCall(const CallLog& log, const Status& status, const std::string& detail);

// RecordCall, then finishes the gRPC call with `status` mapped to gRPC.
void FinishCall(grpc::ServerUnaryReactor* reactor, const CallLog& log, const Status& status, const std::string& detail);

}  // namespace fovea::server
