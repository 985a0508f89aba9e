#pragma once
// Admission, the first step of every model call on every transport (request_pipeline.h draws the whole path): the call
// is logged and counted from its start (CallLog), the model the request names is looked up, and the log is named
// after the model found, so an unknown name never becomes a metric label. Then, for gRPC unary calls, the hooks that
// answer the call when the pipeline is done.

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "common/status.h"
#include "server/models/model_repository.h"
#include "server/pipeline/call_log.h"
#include "server/pipeline/request_pipeline.h"

namespace fovea::server {

// The model `found` for the call, with `log` named after it; the lookup's error otherwise.
StatusOr<std::shared_ptr<const ServedModel>> Admit(StatusOr<std::shared_ptr<const ServedModel>> found, CallLog& log);

// Admit for a gRPC unary call: when there is no model, the call is answered with the error here and nullptr returned
// (the caller just returns its reactor).
std::shared_ptr<const ServedModel> AdmitUnary(grpc::ServerUnaryReactor* reactor, CallLog& log,
                                              StatusOr<std::shared_ptr<const ServedModel>> found);

// The pipeline's hooks for a gRPC unary call: the client's deadline and cancellation, and a `done` that finishes the
// call with its status, logging `summary()` of the response on success (built only when LogsCallDetail()).
CallHooks UnaryCallHooks(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor, const CallLog& log,
                         std::function<std::string()> summary);

}  // namespace fovea::server
