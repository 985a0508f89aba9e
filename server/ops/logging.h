#pragma once
// Server logging: spdlog to stderr as text or one JSON object per line, and per-request ids.

#include <string>

#include "server/config.h"

namespace fovea::server {

// Configures the default spdlog logger from `config` (format and level).
void SetUpLogging(const ServerConfig& config);

// The id a request is logged under: the client's `x-request-id` metadata when it is a short printable token,
// otherwise a new random 16-hex-digit id.
std::string RequestIdFrom(const std::string& client_value);

}  // namespace fovea::server
