#pragma once
// UnknownMethodService: the answer to a gRPC method no service of fovea-server implements (Triton's shared-memory,
// trace and log RPCs, which the proto leaves out, or a typo in a client): UNIMPLEMENTED with a message naming the
// method, where gRPC's own answer has an empty message.

#include <grpcpp/generic/async_generic_service.h>

namespace fovea::server {

class UnknownMethodService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override;
};

}  // namespace fovea::server
