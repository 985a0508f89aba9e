#pragma once
// The JSON bodies of Triton's model-repository routes (POST /v2/repository/index, POST
// /v2/repository/models/NAME/load and /unload) as the protobuf requests the gRPC service takes, and the index answer.

#include <string>
#include <string_view>

#include "common/status.h"
#include "inference/grpc_service.pb.h"

namespace fovea::server {

// An index request body: empty, or {"ready": bool} (and "repository_name", which must then be ""). INVALID_ARGUMENT
// naming the problem otherwise.
StatusOr<::inference::RepositoryIndexRequest> ParseRepositoryIndexJson(std::string_view body);

// A load or unload request body for model `name`: empty, or {"parameters": {KEY: string | number | bool, ...}}.
StatusOr<::inference::RepositoryModelLoadRequest> ParseRepositoryControlJson(std::string_view body,
                                                                             const std::string& name);

// The index as Triton's REST answer: the bare list [{"name", "version", "state", "reason"}, ...], "version" and
// "reason" left out when empty.
std::string RepositoryIndexJson(const ::inference::RepositoryIndexResponse& response);

}  // namespace fovea::server
