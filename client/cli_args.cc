#include "client/cli_args.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace fovea::client {
namespace {

// "4" for "a.b.c.d:port" (or "localhost:port"), "6" for "[v6]:port", "" otherwise; `address` gets the entry as the
// ipv4:/ipv6: URI schemes spell it.
std::string AddressFamily(const std::string& entry, std::string& address) {
  const size_t colon = entry.rfind(':');
  if (colon == std::string::npos || !ParseInteger(entry.substr(colon + 1), 1, 65535)) return "";
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

std::string ParsedArgs::value_or(const std::string& name, const std::string& fallback) const {
  const auto found = values.find(name);
  return found == values.end() ? fallback : found->second;
}

ParsedArgs ParseArgs(const std::vector<std::string>& args, const std::vector<FlagDef>& flags) {
  ParsedArgs parsed;
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || !arg.starts_with("--")) {
      parsed.positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const FlagDef* def = nullptr;
    for (const FlagDef& flag : flags) def = flag.name == name ? &flag : def;
    if (def == nullptr) {
      parsed.error = "unknown flag --" + name;
      return parsed;
    }
    if (!def->takes_value) {
      if (equals != std::string::npos) {
        parsed.error = "flag --" + name + " takes no value";
        return parsed;
      }
      parsed.switches.insert(name);
    } else if (equals != std::string::npos) {
      parsed.values[name] = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      parsed.values[name] = args[++i];
    } else {
      parsed.error = "flag --" + name + " needs a value";
      return parsed;
    }
  }
  return parsed;
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

std::optional<long long> ParseInteger(const std::string& text, long long min, long long max) {
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

}  // namespace fovea::client
