#include "client/cli_args.h"

#include <charconv>

namespace fovea::client {

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

std::optional<long long> ParseInteger(const std::string& text, long long min, long long max) {
  long long value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || value < min || value > max) return std::nullopt;
  return value;
}

}  // namespace fovea::client
