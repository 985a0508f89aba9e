#pragma once
// The one place where Fovea's StatusCode becomes a gRPC status.

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace fovea::server {

// The gRPC canonical code for `code` (the enums share numbering by design; this makes the mapping explicit).
grpc::StatusCode ToGrpcCode(StatusCode code);

// `status` as a grpc::Status with the same message.
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace fovea::server
