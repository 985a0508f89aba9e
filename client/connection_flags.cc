#include "client/connection_flags.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <fstream>
#include <sstream>

#include "common/bearer_token.h"

namespace fovea::client {
namespace {

constexpr int64_t kMaxPort = 65535;

// The whole file at `path` (when given); false (with `error` naming the flag) when it cannot be read or is empty.
bool ReadFlagFile(const std::optional<std::string>& path, const std::string& flag, std::string& content,
                  std::string& error) {
  if (!path) return true;
  std::ifstream file(*path, std::ios::binary);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  content = bytes.str();
  if (!file.is_open() || content.empty()) {
    error = "--" + flag + ": cannot read " + *path;
    return false;
  }
  return true;
}

// "4" for "a.b.c.d:port" (or "localhost:port"), "6" for "[v6]:port", "" otherwise; `address` gets the entry as the
// ipv4:/ipv6: URI schemes spell it.
std::string AddressFamily(const std::string& entry, std::string& address) {
  const size_t colon = entry.rfind(':');
  if (colon == std::string::npos || !ParseInteger(entry.substr(colon + 1), 1, kMaxPort).ok()) return "";
  std::string host = entry.substr(0, colon);
  const std::string port = entry.substr(colon);
  unsigned char bytes[sizeof(in6_addr)];
  if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), bytes) == 1) {
    address = host + port;
    return "4";
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']' &&
      inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), bytes) == 1) {
    address = host + port;
    return "6";
  }
  return "";
}

}  // namespace

void AddConnectionFlags(FlagSet& flags, ConnectionFlags& connection) {
  flags.Add(TextFlag("server", &connection.server, "HOST:PORT",
                     "Server address; a comma-separated list of IP:PORT or a dns:///NAME:PORT balances round-robin "
                     "over the replicas."));
  flags.Add(IntegerFlag("timeout", &connection.timeout_seconds, 1, INT32_MAX, "SECONDS", "Deadline per request."));
  flags.Add(SwitchFlag("tls", &connection.tls, "Connect with TLS, trusting the system's CA certificates."));
  flags.Add(
      TextFlag("tls-ca", &connection.tls_ca, "FILE", "Connect with TLS, trusting the CA certificates in FILE (PEM)."));
  flags.Add(TextFlag("tls-cert", &connection.tls_cert, "FILE",
                     "Client certificate (PEM) for servers that require mutual TLS; with --tls-key."));
  flags.Add(TextFlag("tls-key", &connection.tls_key, "FILE", "Private key (PEM) of --tls-cert."));
  flags.Add(TextFlag("auth-token-file", &connection.auth_token_file, "FILE",
                     "Send the token in FILE as 'authorization: Bearer <token>' (needs TLS)."));
}

std::optional<int> ParseServerCommandArgs(const std::string& command, const FlagSet& flags,
                                          const std::vector<std::string>& args, const ConnectionFlags& connection,
                                          std::string& server, ClientOptions& options,
                                          const std::function<std::string(const ParsedArgs& parsed)>& check,
                                          std::ostream& out, std::ostream& err, ParsedArgs& parsed) {
  const auto connect_then_check = [&](const ParsedArgs& p) -> std::string {
    if (std::string error = ReadConnectionFlags(connection, server, options); !error.empty()) return error;
    return check(p);
  };
  return ParseCommandArgs(command, flags, args, connect_then_check, out, err, parsed);
}

std::optional<ModelConnection> ConnectToModel(const std::string& server, const ClientOptions& options,
                                              const std::string& model, std::ostream& err, int& exit_code) {
  ModelConnection connection{FoveaClient::Connect(server, options), ""};
  const std::optional<std::string> resolved = ResolveModel(*connection.client, server, model, err, exit_code);
  if (!resolved) return std::nullopt;
  connection.model = *resolved;
  return connection;
}

std::string ReadConnectionFlags(const ConnectionFlags& connection, std::string& server, ClientOptions& options) {
  const ServerTarget target = ParseServerList(connection.server);
  if (!target.error.empty()) return target.error;
  server = target.target;
  options.timeout = std::chrono::seconds(connection.timeout_seconds);
  std::string error;
  std::string token_file;
  if (!ReadFlagFile(connection.tls_ca, "tls-ca", options.tls_root_certs, error) ||
      !ReadFlagFile(connection.tls_cert, "tls-cert", options.tls_cert_chain, error) ||
      !ReadFlagFile(connection.tls_key, "tls-key", options.tls_private_key, error) ||
      !ReadFlagFile(connection.auth_token_file, "auth-token-file", token_file, error)) {
    return error;
  }
  options.tls = connection.tls || connection.tls_ca || connection.tls_cert;
  if (connection.tls_cert.has_value() != connection.tls_key.has_value()) {
    return "--tls-cert and --tls-key must be given together";
  }
  if (connection.auth_token_file) {
    // The server refuses tokens without TLS too: in plaintext anyone on the path could read and replay them.
    if (!options.tls) return "--auth-token-file needs TLS (--tls or --tls-ca)";
    StatusOr<std::string> token = common::ParseBearerToken(token_file);
    if (!token.ok()) return "--auth-token-file: " + token.status().message();
    options.bearer_token = *std::move(token);
  }
  return "";
}

ServerTarget ParseServerList(const std::string& servers) {
  const bool is_uri = servers.starts_with("ipv4:") || servers.starts_with("ipv6:") || servers.starts_with("dns:") ||
                      servers.starts_with("unix:");
  if (is_uri || servers.find(',') == std::string::npos) return {servers, ""};
  std::string family;
  std::string addresses;
  size_t start = 0;
  while (start <= servers.size()) {
    const size_t comma = std::min(servers.find(',', start), servers.size());
    const std::string entry = servers.substr(start, comma - start);
    start = comma + 1;
    std::string address;
    const std::string entry_family = AddressFamily(entry, address);
    if (entry_family.empty()) {
      return {"", "--server list entry '" + entry +
                      "' is not IP:PORT; a list takes IPv4 or [IPv6] addresses (use dns:///NAME:PORT for a name)"};
    }
    if (!family.empty() && entry_family != family) return {"", "--server list mixes IPv4 and IPv6 addresses"};
    family = entry_family;
    addresses += (addresses.empty() ? "" : ",") + address;
  }
  return {"ipv" + family + ":" + addresses, ""};
}

}  // namespace fovea::client
