#include "server/models/model_config.h"

#include <charconv>
#include <fstream>
#include <optional>
#include <sstream>

namespace fovea::server {
namespace {

// One key of the file: its valid range and where its value goes.
struct ConfigKey {
  const char* name;
  int64_t min;
  int64_t max;
  void (*apply)(BatchingOptions& options, int64_t value);
};

constexpr ConfigKey kKeys[] = {
    {"max_batch_size", 1, int64_t{1} << 16, [](BatchingOptions& o, int64_t v) { o.max_batch_size = v; }},
    {"max_queue_delay_us", 0, 10'000'000, [](BatchingOptions& o, int64_t v) { o.max_queue_delay_us = v; }},
    {"max_queue_size", 1, int64_t{1} << 20, [](BatchingOptions& o, int64_t v) { o.max_queue_size = v; }},
    {"instances", 1, 64, [](BatchingOptions& o, int64_t v) { o.instances = static_cast<int>(v); }},
    {"compute_threads", 1, 1024, [](BatchingOptions& o, int64_t v) { o.compute_threads = static_cast<int>(v); }},
};

std::string Trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::string KnownKeys() {
  std::string names;
  for (const ConfigKey& key : kKeys) names += std::string(names.empty() ? "" : ", ") + key.name;
  return names;
}

constexpr char kPrecisionKey[] = "precision";

Status ApplyLine(const std::string& line, BatchingOptions& options, std::optional<engine::Precision>& precision) {
  const size_t equals = line.find('=');
  if (equals == std::string::npos) return InvalidArgument("expected 'key = value', got '" + line + "'");
  const std::string name = Trim(line.substr(0, equals));
  const std::string value = Trim(line.substr(equals + 1));
  if (name == kPrecisionKey) {
    FOVEA_ASSIGN_OR_RETURN(precision, engine::ParsePrecision(value));
    return OkStatus();
  }
  for (const ConfigKey& key : kKeys) {
    if (name != key.name) continue;
    int64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error != std::errc() || end != value.data() + value.size() || number < key.min || number > key.max) {
      return InvalidArgument(name + " = '" + value + "' is not an integer in [" + std::to_string(key.min) + ", " +
                             std::to_string(key.max) + "]");
    }
    key.apply(options, number);
    return OkStatus();
  }
  return InvalidArgument("unknown key '" + name + "' (known: " + KnownKeys() + ", " + kPrecisionKey + ")");
}

// Parses every line of `text` into `options` and `precision`.
Status ParseLines(const std::string& text, const std::string& source, BatchingOptions& options,
                  std::optional<engine::Precision>& precision) {
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    FOVEA_RETURN_IF_ERROR(ApplyLine(line, options, precision).WithContext(source + " line " + std::to_string(number)));
  }
  return OkStatus();
}

// The text of `<model_folder>/config.txt`, or nullopt when there is none.
StatusOr<std::optional<std::string>> ReadConfigFile(const std::filesystem::path& model_folder) {
  const std::filesystem::path path = model_folder / kModelConfigFileName;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::optional<std::string>();
  std::ifstream file(path);
  if (!file) return InvalidArgument(path.string() + " cannot be read");
  std::ostringstream text;
  text << file.rdbuf();
  return std::optional<std::string>(text.str());
}

}  // namespace

Status ParseModelConfig(const std::string& text, const std::string& source, BatchingOptions& options) {
  std::optional<engine::Precision> precision;
  return ParseLines(text, source, options, precision);
}

StatusOr<BatchingOptions> LoadModelConfig(const std::filesystem::path& model_folder, const BatchingOptions& defaults) {
  BatchingOptions options = defaults;
  FOVEA_ASSIGN_OR_RETURN(const auto text, ReadConfigFile(model_folder));
  if (!text) return options;
  FOVEA_RETURN_IF_ERROR(ParseModelConfig(*text, (model_folder / kModelConfigFileName).string(), options));
  return options;
}

StatusOr<engine::Precision> LoadModelPrecision(const std::filesystem::path& model_folder, engine::Precision fallback) {
  FOVEA_ASSIGN_OR_RETURN(const auto text, ReadConfigFile(model_folder));
  if (!text) return fallback;
  BatchingOptions unused;
  std::optional<engine::Precision> precision;
  FOVEA_RETURN_IF_ERROR(ParseLines(*text, (model_folder / kModelConfigFileName).string(), unused, precision));
  return precision.value_or(fallback);
}

}  // namespace fovea::server
