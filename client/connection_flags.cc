#include "client/connection_flags.h"

#include <fstream>
#include <sstream>

#include "client/commands.h"
#include "common/bearer_token.h"

namespace fovea::client {
namespace {

// The whole file at `path`; false (with `error` naming the flag) when it cannot be read or is empty.
bool ReadFlagFile(const ParsedArgs& args, const std::string& flag, std::string& content, std::string& error) {
  if (!args.values.contains(flag)) return true;
  const std::string& path = args.values.at(flag);
  std::ifstream file(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  content = bytes.str();
  if (!file.is_open() || content.empty()) {
    error = "--" + flag + ": cannot read " + path;
    return false;
  }
  return true;
}

}  // namespace

std::vector<FlagDef> WithConnectionFlags(std::vector<FlagDef> command_flags) {
  for (const char* name : {"server", "tls-ca", "tls-cert", "tls-key", "auth-token-file"}) {
    command_flags.push_back({name});
  }
  command_flags.push_back({"tls", false});
  return command_flags;
}

std::string ReadConnectionFlags(const ParsedArgs& args, std::string& server, ClientOptions& options) {
  const ServerTarget target = ParseServerList(args.value_or("server", kDefaultServer));
  if (!target.error.empty()) return target.error;
  server = target.target;
  std::string error;
  std::string token_file;
  if (!ReadFlagFile(args, "tls-ca", options.tls_root_certs, error) ||
      !ReadFlagFile(args, "tls-cert", options.tls_cert_chain, error) ||
      !ReadFlagFile(args, "tls-key", options.tls_private_key, error) ||
      !ReadFlagFile(args, "auth-token-file", token_file, error)) {
    return error;
  }
  options.tls = args.has("tls") || args.has("tls-ca") || args.has("tls-cert");
  if (args.has("tls-cert") != args.has("tls-key")) return "--tls-cert and --tls-key must be given together";
  if (args.has("auth-token-file")) {
    // The server refuses tokens without TLS too: in plaintext anyone on the path could read and replay them.
    if (!options.tls) return "--auth-token-file needs TLS (--tls or --tls-ca)";
    StatusOr<std::string> token = common::ParseBearerToken(token_file);
    if (!token.ok()) return "--auth-token-file: " + token.status().message();
    options.bearer_token = *std::move(token);
  }
  return "";
}

std::string ConnectionHelp() {
  return "  --server HOST:PORT      server address (default localhost:50051); a comma-separated list of IP:PORT or\n"
         "                          a dns:///NAME:PORT balances round-robin over the replicas\n"
         "  --tls                   connect with TLS, trusting the system's CA certificates\n"
         "  --tls-ca FILE           connect with TLS, trusting the CA certificates in FILE (PEM)\n"
         "  --tls-cert FILE         client certificate (PEM) for servers that require mutual TLS; with --tls-key\n"
         "  --tls-key FILE          private key (PEM) of --tls-cert\n"
         "  --auth-token-file FILE  send the token in FILE as 'authorization: Bearer <token>' (needs TLS)\n";
}

}  // namespace fovea::client
