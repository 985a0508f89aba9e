#pragma once
// The flags every `fovea` command shares to reach the server: where it is, TLS, mutual TLS and the bearer token.

#include <string>
#include <vector>

#include "client/cli_args.h"
#include "client/fovea_client.h"

namespace fovea::client {

// `command_flags` plus --server, --tls, --tls-ca, --tls-cert, --tls-key and --auth-token-file.
std::vector<FlagDef> WithConnectionFlags(std::vector<FlagDef> command_flags);

// Reads the connection flags of `args` into `server` and the security fields of `options`, loading the PEM and
// token files. Returns a message naming the flag and the problem, or "" on success.
std::string ReadConnectionFlags(const ParsedArgs& args, std::string& server, ClientOptions& options);

// The help lines describing the connection flags.
std::string ConnectionHelp();

}  // namespace fovea::client
