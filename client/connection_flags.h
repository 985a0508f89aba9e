#pragma once
// The flags every `fovea` command shares to reach the server: where it is, TLS, mutual TLS and the bearer token.

#include <memory>
#include <optional>
#include <string>

#include "client/commands.h"
#include "client/fovea_client.h"
#include "common/flags.h"

namespace fovea::client {

// What the connection flags were given as; the files are read by ReadConnectionFlags. A command whose calls take
// longer than a minute (classify's batches, localize's maps) raises timeout_seconds before adding the flags.
struct ConnectionFlags {
  std::string server = kDefaultServer;
  int timeout_seconds = 60;  // the deadline of each call
  bool tls = false;
  std::optional<std::string> tls_ca, tls_cert, tls_key, auth_token_file;  // file paths, when given
};

// Adds --server, --timeout, --tls, --tls-ca, --tls-cert, --tls-key and --auth-token-file to `flags`, bound to
// `connection` (which must outlive `flags`).
void AddConnectionFlags(FlagSet& flags, ConnectionFlags& connection);

// Turns parsed connection flags into the channel target `server`, the deadline and the security fields of `options`,
// loading the PEM and token files. Returns a message naming the flag and the problem, or "" on success.
std::string ReadConnectionFlags(const ConnectionFlags& connection, std::string& server, ClientOptions& options);

// ParseCommandArgs for a command that talks to a server: the connection flags (bound to `connection` in `flags`) are
// read into `server` and `options` first, then `check` runs the command's own checks on `parsed`.
std::optional<int> ParseServerCommandArgs(const std::string& command, const FlagSet& flags,
                                          const std::vector<std::string>& args, const ConnectionFlags& connection,
                                          std::string& server, ClientOptions& options,
                                          const std::function<std::string(const ParsedArgs& parsed)>& check,
                                          std::ostream& out, std::ostream& err, ParsedArgs& parsed);

// What a command that works on one model talks to: the connected client and the model's name.
struct ModelConnection {
  std::unique_ptr<FoveaClient> client;
  std::string model;
};

// Connects to `server` with `options` and resolves the model (`model`, or the server's only one: ResolveModel). On
// failure prints why to `err`, sets `exit_code` and returns std::nullopt.
std::optional<ModelConnection> ConnectToModel(const std::string& server, const ClientOptions& options,
                                              const std::string& model, std::ostream& err, int& exit_code);

// The gRPC channel target for a --server value. One address ("host:port") or URI ("dns:///name:port",
// "ipv4:...") passes through unchanged. A comma-separated list becomes one "ipv4:" (or "ipv6:") URI with every
// address, which the client balances round-robin; list entries must be IP literals ("localhost" means 127.0.0.1)
// of one family. `error` is set (and the target empty) when the list cannot be expressed that way.
struct ServerTarget {
  std::string target;
  std::string error;
};
ServerTarget ParseServerList(const std::string& servers);

}  // namespace fovea::client
