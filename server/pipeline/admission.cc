#include "server/pipeline/admission.h"

namespace fovea::server {

StatusOr<std::shared_ptr<const ServedModel>> Admit(StatusOr<std::shared_ptr<const ServedModel>> found, CallLog& log) {
  if (found.ok()) {
    log.model = (*found)->name;
    log.model_version = (*found)->version;
  }
  return found;
}

std::shared_ptr<const ServedModel> AdmitUnary(grpc::ServerUnaryReactor* reactor, CallLog& log,
                                              StatusOr<std::shared_ptr<const ServedModel>> found) {
  StatusOr<std::shared_ptr<const ServedModel>> model = Admit(std::move(found), log);
  if (!model.ok()) {
    FinishCall(reactor, log, model.status(), "");
    return nullptr;
  }
  return *std::move(model);
}

CallHooks UnaryCallHooks(grpc::CallbackServerContext* context, grpc::ServerUnaryReactor* reactor, const CallLog& log,
                         std::function<std::string()> summary) {
  CallHooks hooks;
  hooks.deadline = SteadyDeadline(context);
  hooks.cancelled = [context] { return context->IsCancelled(); };
  hooks.done = [reactor, log, summary = std::move(summary)](const Status& status, InferStage /*stage*/) {
    FinishCall(reactor, log, status, status.ok() && LogsCallDetail() ? summary() : "");
  };
  return hooks;
}

}  // namespace fovea::server
