#include "common/flags.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace fovea {
namespace {

constexpr size_t kHelpWidth = 100;  // --help lines wrap before this column
constexpr size_t kHelpColumn = 28;  // where a flag's description starts
constexpr size_t kFlagIndent = 2;   // before "--name"
constexpr char kFlagPrefix[] = "--";

template <typename T>
std::string ShortestText(T value) {
  char buffer[64];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (error != std::errc()) return std::to_string(value);
  return std::string(buffer, end);
}

// `words` laid out from `column` on, wrapped before kHelpWidth; continuation lines start at `column` too.
void AppendWrapped(const std::vector<std::string>& words, size_t column, size_t used, std::string& out) {
  const std::string indent(column, ' ');
  size_t line = used;
  bool first_on_line = true;
  for (const std::string& word : words) {
    if (!first_on_line && line + 1 + word.size() > kHelpWidth) {
      out += "\n" + indent;
      line = column;
      first_on_line = true;
    }
    if (!first_on_line) {
      out += ' ';
      ++line;
    }
    out += word;
    line += word.size();
    first_on_line = false;
  }
  out += '\n';
}

std::vector<std::string> Words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream stream(text);
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

// One flag's entry: "  --name VALUE" and its description, annotations kept whole at the end.
void AppendFlagHelp(const std::string& lead, const std::string& help, const std::vector<std::string>& annotations,
                    std::string& out) {
  out += lead;
  size_t used = lead.size();
  if (used + 1 > kHelpColumn) {
    out += "\n";
    used = 0;
  }
  out += std::string(kHelpColumn - used, ' ');
  std::vector<std::string> lines;
  std::istringstream stream(help);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  if (lines.empty()) lines.emplace_back();
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> words = Words(lines[i]);
    if (i + 1 == lines.size()) words.insert(words.end(), annotations.begin(), annotations.end());
    if (i > 0) out += std::string(kHelpColumn, ' ');
    AppendWrapped(words, kHelpColumn, kHelpColumn, out);
  }
}

std::string WithNewline(const std::string& text) { return text.ends_with('\n') ? text : text + "\n"; }

// `text` wrapped before kHelpWidth paragraph by paragraph; a blank line separates paragraphs.
std::string WrapParagraphs(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find("\n\n", start), text.size());
    if (!out.empty()) out += '\n';
    AppendWrapped(Words(text.substr(start, end - start)), 0, 0, out);
    start = end + 2;
  }
  return out;
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read once at startup
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

StatusOr<int64_t> ParseInteger(const std::string& text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end) return InvalidArgument("'" + text + "' is not an integer");
  if (value < min || value > max) {
    return InvalidArgument(text + " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return value;
}

StatusOr<double> ParseNumber(const std::string& text, double min, double max) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || ptr != end || !std::isfinite(value)) {
    return InvalidArgument("'" + text + "' is not a number");
  }
  if (value < min || value > max) {
    return InvalidArgument(text + " is outside [" + NumberText(min) + ", " + NumberText(max) + "]");
  }
  return value;
}

std::string NumberText(double value) { return ShortestText(value); }
std::string NumberText(float value) { return ShortestText(value); }

Flag CustomFlag(std::string name, std::string value_name, std::string help,
                std::function<Status(const std::string& value)> set) {
  Flag flag;
  flag.name = std::move(name);
  flag.value_name = std::move(value_name);
  flag.help = std::move(help);
  flag.set = std::move(set);
  return flag;
}

Flag TextFlag(std::string name, std::string* target, std::string value_name, std::string help) {
  Flag flag = CustomFlag(std::move(name), std::move(value_name), std::move(help), [target](const std::string& value) {
    *target = value;
    return OkStatus();
  });
  flag.default_text = *target;
  return flag;
}

Flag TextFlag(std::string name, std::optional<std::string>* target, std::string value_name, std::string help) {
  return CustomFlag(std::move(name), std::move(value_name), std::move(help), [target](const std::string& value) {
    *target = value;
    return OkStatus();
  });
}

Flag SwitchFlag(std::string name, bool* target, std::string help, bool value_when_given) {
  return CustomFlag(std::move(name), "", std::move(help), [target, value_when_given](const std::string&) {
    *target = value_when_given;
    return OkStatus();
  });
}

FlagSet::FlagSet(CommandInfo info) : info_(std::move(info)) {}

void FlagSet::Add(Flag flag) { flags_.push_back(std::move(flag)); }

void FlagSet::Section(std::string title) { sections_.emplace_back(flags_.size(), std::move(title)); }

const Flag* FlagSet::Find(const std::string& name) const {
  for (const Flag& flag : flags_) {
    if (flag.name == name) return &flag;
  }
  return nullptr;
}

std::string FlagSet::SeeHelp() const { return info_.see_help.empty() ? "" : " (see " + info_.see_help + ")"; }

// Applies args[index] (and its value, advancing `index` past it) when it is a flag.
Status FlagSet::ApplyArgument(const std::vector<std::string>& args, size_t& index, ParsedArgs& parsed) const {
  const std::string& arg = args[index];
  const size_t equals = arg.find('=');
  const bool inline_value = equals != std::string::npos;
  const std::string name = arg.substr(2, inline_value ? equals - 2 : std::string::npos);
  if (name == "help") {
    if (inline_value) return InvalidArgument("flag --help takes no value");
    parsed.help = true;
    return OkStatus();
  }
  const Flag* flag = Find(name);
  if (flag == nullptr) return InvalidArgument("unknown flag --" + name + SeeHelp());
  std::string value;
  if (!flag->takes_value()) {
    if (inline_value) return InvalidArgument("flag --" + name + " takes no value");
  } else if (inline_value) {
    value = arg.substr(equals + 1);
  } else if (index + 1 < args.size()) {
    value = args[++index];
  } else {
    return InvalidArgument("flag --" + name + " needs a value");
  }
  return flag->set(value).WithContext("flag --" + name);
}

StatusOr<ParsedArgs> FlagSet::Parse(const std::vector<std::string>& args, const EnvLookup& env) const {
  ParsedArgs parsed;
  if (env) {
    for (const Flag& flag : flags_) {
      if (flag.env.empty()) continue;
      if (const std::optional<std::string> value = env(flag.env)) {
        FOVEA_RETURN_IF_ERROR(flag.set(*value).WithContext("environment " + flag.env));
      }
    }
  }
  bool flags_ended = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (!flags_ended && arg == "--") {
      flags_ended = true;
    } else if (!flags_ended && arg == "-h") {
      parsed.help = true;
    } else if (!flags_ended && arg.starts_with(kFlagPrefix)) {
      FOVEA_RETURN_IF_ERROR(ApplyArgument(args, i, parsed));
    } else if (info_.positionals) {
      parsed.positionals.push_back(arg);
    } else {
      return InvalidArgument("unexpected argument '" + arg + "'" + SeeHelp());
    }
  }
  return parsed;
}

std::string FlagSet::Help() const {
  std::string out = "Usage: " + info_.usage + "\n";
  if (!info_.description.empty()) out.append("\n").append(WrapParagraphs(info_.description));
  if (sections_.empty() || sections_.front().first > 0) out += "\nFlags:\n";
  size_t section = 0;
  for (size_t i = 0; i < flags_.size(); ++i) {
    for (; section < sections_.size() && sections_[section].first == i; ++section) {
      out.append("\n").append(sections_[section].second).append("\n");
    }
    const Flag& flag = flags_[i];
    std::string lead = std::string(kFlagIndent, ' ') + kFlagPrefix + flag.name;
    if (flag.takes_value()) lead += " " + flag.value_name;
    std::vector<std::string> annotations;
    if (!flag.default_text.empty()) annotations.push_back("(default " + flag.default_text + ")");
    if (!flag.env.empty()) annotations.push_back("[$" + flag.env + "]");
    AppendFlagHelp(lead, flag.help, annotations, out);
  }
  AppendFlagHelp(std::string(kFlagIndent, ' ') + "-h, --help", "Print this text and exit.", {}, out);
  if (!info_.epilogue.empty()) out.append("\n").append(WithNewline(info_.epilogue));
  return out;
}

}  // namespace fovea
