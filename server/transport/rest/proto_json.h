#pragma once
// Protobuf messages as the JSON Triton's REST API answers with: field names as in the .proto, every integer as a JSON
// number (protobuf's own JSON mapping writes 64-bit integers as strings, which Triton's clients do not expect), enums
// by name, maps as objects. Used for the answers that are protobuf messages on gRPC too (ModelConfig, statistics,
// the repository index), so both transports send the same content.

#include <string>

#include <google/protobuf/message.h>

namespace fovea::server {

// `message` as a JSON object: every scalar and repeated field (defaults included, as Triton prints them), message
// fields only when set, and of a oneof only the member that is set.
std::string ProtoToJson(const google::protobuf::Message& message);

}  // namespace fovea::server
