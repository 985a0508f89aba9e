#pragma once
// The one command-line parser of fovea-server, fovea-train and the `fovea` CLI. Each binary declares every flag once,
// in a FlagSet: its name, what it sets (a typed target or a setter), its default and its help text, and optionally a
// FOVEA_* environment variable. Parsing and the --help text both come from that table.
//
// Syntax: "--name value" or "--name=value" for a flag with a value, "--name" for a switch, "--help" or "-h" for the
// help text, and "--" to end the flags. Environment variables are applied before the arguments, so a flag wins over
// its variable. Every error is InvalidArgument and names the flag (or variable) and the bad value.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace fovea {

// Looks up an environment variable; std::nullopt when unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment, as an EnvLookup.
std::optional<std::string> ProcessEnv(const std::string& name);

// A whole decimal integer in [min, max]: "'x' is not an integer" or "x is outside [min, max]" otherwise.
StatusOr<int64_t> ParseInteger(const std::string& text, int64_t min, int64_t max);

// A finite decimal number in [min, max]: "'x' is not a number" or "x is outside [min, max]" otherwise.
StatusOr<double> ParseNumber(const std::string& text, double min, double max);

// The shortest text that reads back as `value` ("0.1", "5e-04"), for defaults and ranges in messages.
std::string NumberText(double value);
std::string NumberText(float value);

// One flag: how it is written, what it sets, and its entry in --help.
struct Flag {
  std::string name;          // without the leading "--"
  std::string value_name;    // "N", "DIR", ... in --help; empty for a switch, which takes no value
  std::string help;          // sentences; "\n" starts a new line in --help
  std::string default_text;  // shown as "(default X)" in --help; empty shows nothing
  std::string env;           // environment variable applied before the arguments; empty for none
  // Applies one value (a switch receives ""). An error's message is prefixed with "flag --NAME: " (or
  // "environment VAR: ").
  std::function<Status(const std::string& value)> set;

  bool takes_value() const { return !value_name.empty(); }
  Flag& Env(std::string variable) {
    env = std::move(variable);
    return *this;
  }
  Flag& Default(std::string text) {
    default_text = std::move(text);
    return *this;
  }
};

// The makers below bind a flag to a target the caller owns: it must outlive every Parse of the FlagSet. Their default
// text is the target's value when the flag is made (override it with .Default()).

// A flag whose value any setter applies.
Flag CustomFlag(std::string name, std::string value_name, std::string help,
                std::function<Status(const std::string& value)> set);

// A text value stored as given.
Flag TextFlag(std::string name, std::string* target, std::string value_name, std::string help);
Flag TextFlag(std::string name, std::optional<std::string>* target, std::string value_name, std::string help);

// A switch: "--name" sets *target to `value_when_given`.
Flag SwitchFlag(std::string name, bool* target, std::string help, bool value_when_given = true);

// A whole number in [min, max].
template <typename T>
Flag IntegerFlag(std::string name, T* target, int64_t min, int64_t max, std::string value_name, std::string help) {
  Flag flag = CustomFlag(std::move(name), std::move(value_name), std::move(help),
                         [target, min, max](const std::string& text) -> Status {
                           FOVEA_ASSIGN_OR_RETURN(const int64_t value, ParseInteger(text, min, max));
                           *target = static_cast<T>(value);
                           return OkStatus();
                         });
  flag.default_text = std::to_string(*target);
  return flag;
}
template <typename T>
Flag IntegerFlag(std::string name, std::optional<T>* target, int64_t min, int64_t max, std::string value_name,
                 std::string help) {
  return CustomFlag(std::move(name), std::move(value_name), std::move(help),
                    [target, min, max](const std::string& text) -> Status {
                      FOVEA_ASSIGN_OR_RETURN(const int64_t value, ParseInteger(text, min, max));
                      *target = static_cast<T>(value);
                      return OkStatus();
                    });
}

// A decimal number (float or double) in [min, max].
template <typename T>
Flag NumberFlag(std::string name, T* target, double min, double max, std::string value_name, std::string help) {
  Flag flag = CustomFlag(std::move(name), std::move(value_name), std::move(help),
                         [target, min, max](const std::string& text) -> Status {
                           FOVEA_ASSIGN_OR_RETURN(const double value, ParseNumber(text, min, max));
                           *target = static_cast<T>(value);
                           return OkStatus();
                         });
  flag.default_text = NumberText(*target);
  return flag;
}
template <typename T>
Flag NumberFlag(std::string name, std::optional<T>* target, double min, double max, std::string value_name,
                std::string help) {
  return CustomFlag(std::move(name), std::move(value_name), std::move(help),
                    [target, min, max](const std::string& text) -> Status {
                      FOVEA_ASSIGN_OR_RETURN(const double value, ParseNumber(text, min, max));
                      *target = static_cast<T>(value);
                      return OkStatus();
                    });
}

// What --help says around the flags, and what the parser does with arguments that are not flags.
struct CommandInfo {
  std::string usage{};        // after "Usage: ", e.g. "fovea-server [FLAGS]"
  std::string description{};  // between the usage line and the flags; wrapped, a blank line between paragraphs
  std::string epilogue{};     // after the flags, as written
  bool positionals = false;   // collect arguments that are not flags; otherwise each is an error
  std::string see_help{};     // unknown flags and arguments are reported "... (see SEE_HELP)"; empty: no hint
};

// What Parse found besides the values it applied.
struct ParsedArgs {
  bool help = false;                     // --help or -h was given
  std::vector<std::string> positionals;  // in order (only with CommandInfo::positionals)
};

// A command's flag table. --help and -h are built in.
class FlagSet {
 public:
  explicit FlagSet(CommandInfo info);

  // Adds a flag; names are unique within a set.
  void Add(Flag flag);
  // Starts a titled group of flags in --help; the flags added next belong to it.
  void Section(std::string title);

  // Applies the variables of `env` (when given), then `args` (without the program name), in order. Stops at the
  // first error.
  StatusOr<ParsedArgs> Parse(const std::vector<std::string>& args, const EnvLookup& env = nullptr) const;

  // The --help text: usage, description, every flag with its value, help, default and variable, then the epilogue.
  std::string Help() const;

 private:
  const Flag* Find(const std::string& name) const;
  Status ApplyArgument(const std::vector<std::string>& args, size_t& index, ParsedArgs& parsed) const;
  std::string SeeHelp() const;

  CommandInfo info_;
  std::vector<Flag> flags_;
  std::vector<std::pair<size_t, std::string>> sections_;  // (index of the first flag, title)
};

}  // namespace fovea
