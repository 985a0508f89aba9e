#pragma once
// Command-line parsing for the `fovea` CLI: "--name value", "--name=value", boolean "--switch", positionals, and
// "--" to end the flags.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fovea::client {

struct FlagDef {
  std::string name;  // without "--"
  bool takes_value = true;
};

struct ParsedArgs {
  std::map<std::string, std::string> values;
  std::set<std::string> switches;
  std::vector<std::string> positionals;
  std::string error;  // empty on success; otherwise names the bad argument

  bool has(const std::string& name) const { return values.contains(name) || switches.contains(name); }
  std::string value_or(const std::string& name, const std::string& fallback) const;
};

// Parses `args` against `flags`; an unknown flag or a missing value sets `error`.
ParsedArgs ParseArgs(const std::vector<std::string>& args, const std::vector<FlagDef>& flags);

// The gRPC channel target for a --server value. One address ("host:port") or URI ("dns:///name:port",
// "ipv4:...") passes through unchanged. A comma-separated list becomes one "ipv4:" (or "ipv6:") URI with every
// address, which the client balances round-robin; list entries must be IP literals ("localhost" means 127.0.0.1)
// of one family. `error` is set (and the target empty) when the list cannot be expressed that way.
struct ServerTarget {
  std::string target;
  std::string error;
};
ServerTarget ParseServerList(const std::string& servers);

// Parses a whole decimal number in [min, max]; std::nullopt otherwise.
std::optional<long long> ParseInteger(const std::string& text, long long min, long long max);

// Reads the integer flag `name` (when given) into `field`; returns an error message naming the flag and its range,
// or "" when the flag is absent or valid.
template <typename T>
std::string ReadIntegerFlag(const ParsedArgs& args, const std::string& name, long long min, long long max, T& field) {
  if (!args.values.contains(name)) return "";
  const std::optional<long long> value = ParseInteger(args.values.at(name), min, max);
  if (!value) return "--" + name + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  field = static_cast<T>(*value);
  return "";
}

}  // namespace fovea::client
