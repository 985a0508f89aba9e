// libFuzzer target: arbitrary command lines (NUL-separated arguments) and environment values through the flag parser
// every binary uses (common/flags.h), with a table holding every kind of flag. Any outcome is fine except a crash, a
// sanitizer report, a leak or a hang; a successful parse must leave every bound value in its declared range.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "common/flags.h"

namespace {

constexpr int64_t kMinCount = -3;
constexpr int64_t kMaxCount = 1000;
constexpr double kMaxRate = 1e7;

// What the table sets.
struct Settings {
  std::string server = "localhost:50051";
  std::optional<std::string> token;
  int count = 4;
  std::optional<int32_t> top_k;
  double rate = 0;
  std::optional<float> threshold;
  bool verbose = true;
  std::string mode = "a";
};

fovea::FlagSet MakeFlags(Settings& s, bool positionals) {
  fovea::FlagSet flags({.usage = "fuzz [FLAGS]", .positionals = positionals, .see_help = "--help"});
  flags.Add(fovea::TextFlag("server", &s.server, "HOST:PORT", "Server.").Env("FUZZ_SERVER"));
  flags.Add(fovea::TextFlag("token", &s.token, "FILE", "Token."));
  flags.Add(fovea::IntegerFlag("count", &s.count, kMinCount, kMaxCount, "N", "Count.").Env("FUZZ_COUNT"));
  flags.Add(fovea::IntegerFlag("top-k", &s.top_k, INT32_MIN, INT32_MAX, "K", "Top k."));
  flags.Add(fovea::NumberFlag("rate", &s.rate, 0, kMaxRate, "R", "Rate.").Env("FUZZ_RATE"));
  flags.Add(fovea::NumberFlag("threshold", &s.threshold, -1, 1, "T", "Threshold."));
  flags.Add(fovea::SwitchFlag("quiet", &s.verbose, "Quiet.", false));
  flags.Add(fovea::CustomFlag("mode", "a|b", "Mode.", [&s](const std::string& value) {
              if (value != "a" && value != "b") return fovea::InvalidArgument("'" + value + "' is not a or b");
              s.mode = value;
              return fovea::OkStatus();
            }).Default("a"));
  return flags;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the parser's options; the rest are the arguments, the last of which also serves as the value
  // of every environment variable when that option is on.
  const bool positionals = (data[0] & 1) != 0;
  const bool with_env = (data[0] & 2) != 0;
  std::vector<std::string> args(1);
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == 0) {
      args.emplace_back();
    } else {
      args.back() += static_cast<char>(data[i]);
    }
  }
  const std::string env_value = args.back();
  const fovea::EnvLookup env = [&env_value](const std::string&) { return std::optional<std::string>(env_value); };
  Settings s;
  const fovea::FlagSet flags = MakeFlags(s, positionals);
  const auto parsed = flags.Parse(args, with_env ? env : nullptr);
  if (!parsed.ok()) {
    if (parsed.status().code() != fovea::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (s.count < kMinCount || s.count > kMaxCount || !(s.rate >= 0 && s.rate <= kMaxRate)) std::abort();
  if (s.threshold && !(*s.threshold >= -1 && *s.threshold <= 1)) std::abort();
  if (!positionals && !parsed->positionals.empty()) std::abort();
  if (parsed->help) (void)flags.Help();
  return 0;
}
