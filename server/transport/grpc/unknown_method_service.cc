#include "server/transport/grpc/unknown_method_service.h"

#include <string>

namespace fovea::server {
namespace {

// Finishes at once with the refusal and frees itself when gRPC is done with it.
class UnknownMethodReactor final : public grpc::ServerGenericBidiReactor {
 public:
  explicit UnknownMethodReactor(const std::string& method) {
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "method " + method +
                            " is not implemented by fovea-server (docs/server.md lists what is: \"Triton "
                            "compatibility\")"));
  }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerGenericBidiReactor* UnknownMethodService::CreateReactor(grpc::GenericCallbackServerContext* context) {
  return new UnknownMethodReactor(context->method());
}

}  // namespace fovea::server
