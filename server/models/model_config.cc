#include "server/models/model_config.h"

#include <charconv>
#include <fstream>
#include <mutex>
#include <numeric>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "server/models/triton_config.h"

namespace fovea::server {
namespace {

namespace oip = ::inference;

// One key of the shorthand: its valid range and where its value goes in the ModelConfig.
struct ShorthandKey {
  const char* name;
  int64_t min;
  int64_t max;
  void (*apply)(ModelFolderConfig& folder, int64_t value);
};

oip::ModelInstanceGroup& CpuGroup(oip::ModelConfig& config) {
  if (config.instance_group().empty()) config.add_instance_group()->set_kind(oip::ModelInstanceGroup::KIND_CPU);
  return *config.mutable_instance_group(0);
}

void SetParameter(oip::ModelConfig& config, const std::string& key, const std::string& value) {
  (*config.mutable_parameters())[key].set_string_value(value);
}

constexpr ShorthandKey kShorthandKeys[] = {
    {"max_batch_size", 1, int64_t{1} << 16,
     [](ModelFolderConfig& f, int64_t v) {
       f.config.set_max_batch_size(static_cast<int32_t>(v));
       f.sets_max_batch_size = true;
     }},
    {"max_queue_delay_us", 0, 10'000'000,
     [](ModelFolderConfig& f, int64_t v) {
       f.config.mutable_dynamic_batching()->set_max_queue_delay_microseconds(static_cast<uint64_t>(v));
       f.sets_queue_delay = true;
     }},
    {"max_queue_size", 1, int64_t{1} << 20,
     [](ModelFolderConfig& f, int64_t v) {
       f.config.mutable_dynamic_batching()->mutable_default_queue_policy()->set_max_queue_size(
           static_cast<uint32_t>(v));
     }},
    {"instances", 1, 64,
     [](ModelFolderConfig& f, int64_t v) { CpuGroup(f.config).set_count(static_cast<int32_t>(v)); }},
    {"compute_threads", 1, 1024,
     [](ModelFolderConfig& f, int64_t v) { SetParameter(f.config, kComputeThreadsParameter, std::to_string(v)); }},
};

std::string Trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

std::string KnownKeys() {
  std::string names;
  for (const ShorthandKey& key : kShorthandKeys) names += std::string(names.empty() ? "" : ", ") + key.name;
  return names + ", " + kPrecisionParameter;
}

Status ApplyLine(const std::string& line, ModelFolderConfig& folder) {
  const size_t equals = line.find('=');
  if (equals == std::string::npos) return InvalidArgument("expected 'key = value', got '" + line + "'");
  const std::string name = Trim(line.substr(0, equals));
  const std::string value = Trim(line.substr(equals + 1));
  if (name == kPrecisionParameter) {
    FOVEA_RETURN_IF_ERROR(engine::ParsePrecision(value).status());
    SetParameter(folder.config, kPrecisionParameter, value);
    return OkStatus();
  }
  for (const ShorthandKey& key : kShorthandKeys) {
    if (name != key.name) continue;
    int64_t number = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (error != std::errc() || end != value.data() + value.size() || number < key.min || number > key.max) {
      return InvalidArgument(name + " = '" + value + "' is not an integer in [" + std::to_string(key.min) + ", " +
                             std::to_string(key.max) + "]");
    }
    key.apply(folder, number);
    return OkStatus();
  }
  return InvalidArgument("unknown key '" + name + "' (known: " + KnownKeys() + ")");
}

// The whole file, or nullopt when it does not exist.
StatusOr<std::optional<std::string>> ReadOptionalFile(const std::filesystem::path& path) {
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::optional<std::string>();
  std::ifstream file(path, std::ios::binary);
  if (!file) return InvalidArgument(path.string() + " cannot be read");
  std::ostringstream text;
  text << file.rdbuf();
  return std::optional<std::string>(text.str());
}

// One label per line; a '\r' before the newline is dropped, as is one trailing newline (the ONNX key's rules).
StatusOr<std::vector<std::string>> ParseLabelLines(const std::string& text, const std::string& source) {
  std::vector<std::string> labels;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return InvalidArgument(source + " line " + std::to_string(number) + " is empty");
    labels.push_back(std::move(line));
  }
  if (labels.empty()) return InvalidArgument(source + " has no labels");
  return labels;
}

// Reads the first output's label file; the name may not leave the model folder.
Status ReadLabels(const std::filesystem::path& model_folder, ModelFolderConfig& folder) {
  if (folder.config.output().empty() || folder.config.output(0).label_filename().empty()) return OkStatus();
  const std::string& name = folder.config.output(0).label_filename();
  if (name.find('/') != std::string::npos || name == "." || name == "..") {
    return InvalidArgument(folder.source + ": label_filename '" + name + "' must name a file in the model folder");
  }
  const std::filesystem::path path = model_folder / name;
  FOVEA_ASSIGN_OR_RETURN(const std::optional<std::string> text, ReadOptionalFile(path));
  if (!text)
    return InvalidArgument(folder.source + ": label_filename '" + name + "' does not exist in " +
                           model_folder.string());
  FOVEA_ASSIGN_OR_RETURN(folder.labels, ParseLabelLines(*text, path.string()));
  folder.labels_source = path.string();
  return OkStatus();
}

// A Triton configuration as the folder's configuration: checked on its own, its label file read from `model_folder`.
StatusOr<ModelFolderConfig> FromTritonConfig(ParsedTritonConfig parsed, std::string source,
                                             const std::filesystem::path& model_folder) {
  FOVEA_RETURN_IF_ERROR(ValidateTritonConfig(parsed.config, model_folder.filename().string()).WithContext(source));
  ModelFolderConfig folder;
  folder.config = std::move(parsed.config);
  folder.not_implemented = std::move(parsed.not_implemented);
  folder.source = std::move(source);
  folder.triton_format = true;
  folder.sets_max_batch_size = true;  // unset is 0 in Triton's format: no batching
  FOVEA_RETURN_IF_ERROR(ReadLabels(model_folder, folder));
  return folder;
}

const std::string* FindParameter(const oip::ModelConfig& config, const char* key) {
  const auto found = config.parameters().find(key);
  return found == config.parameters().end() ? nullptr : &found->second.string_value();
}

}  // namespace

StatusOr<ModelFolderConfig> ParseShorthandConfig(const std::string& text, const std::string& source) {
  ModelFolderConfig folder;
  folder.source = source;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    FOVEA_RETURN_IF_ERROR(ApplyLine(line, folder).WithContext(source + " line " + std::to_string(number)));
  }
  return folder;
}

StatusOr<ModelFolderConfig> LoadModelFolderConfig(const std::filesystem::path& model_folder,
                                                  std::string_view config_json) {
  if (!config_json.empty()) {
    const std::string source = "the load request's config";
    FOVEA_ASSIGN_OR_RETURN(ParsedTritonConfig parsed, ParseTritonConfigJson(config_json, source));
    return FromTritonConfig(std::move(parsed), source, model_folder);
  }
  const std::filesystem::path triton_path = model_folder / kTritonConfigFileName;
  const std::filesystem::path shorthand_path = model_folder / kModelConfigFileName;
  FOVEA_ASSIGN_OR_RETURN(const std::optional<std::string> triton_text, ReadOptionalFile(triton_path));
  FOVEA_ASSIGN_OR_RETURN(const std::optional<std::string> shorthand_text, ReadOptionalFile(shorthand_path));
  if (triton_text && shorthand_text) {
    return InvalidArgument(model_folder.string() + " holds both " + kTritonConfigFileName + " and " +
                           kModelConfigFileName + "; keep one (config.txt is a shorthand for config.pbtxt)");
  }
  if (shorthand_text) return ParseShorthandConfig(*shorthand_text, shorthand_path.string());
  if (!triton_text) return ModelFolderConfig{};
  FOVEA_ASSIGN_OR_RETURN(ParsedTritonConfig parsed, ParseTritonConfig(*triton_text, triton_path.string()));
  return FromTritonConfig(std::move(parsed), triton_path.string(), model_folder);
}

BatchingOptions BatchingFor(const ModelFolderConfig& folder, const BatchingOptions& defaults) {
  BatchingOptions options = defaults;
  const oip::ModelConfig& config = folder.config;
  // Triton's max_batch_size 0 means the model takes no batch of the server's making: one request per run.
  if (folder.sets_max_batch_size) options.max_batch_size = std::max<int64_t>(config.max_batch_size(), 1);
  if (config.has_dynamic_batching()) {
    const oip::ModelDynamicBatching& batching = config.dynamic_batching();
    // In config.pbtxt an absent delay is Triton's default, 0; the shorthand keeps the flag unless it names one.
    if (folder.triton_format || folder.sets_queue_delay) {
      options.max_queue_delay_us = static_cast<int64_t>(batching.max_queue_delay_microseconds());
    }
    // 0 is Triton's "no limit of its own"; Fovea's queue is always bounded, by the flag then.
    if (batching.default_queue_policy().max_queue_size() != 0) {
      options.max_queue_size = batching.default_queue_policy().max_queue_size();
    }
    options.preferred_batch_sizes.assign(batching.preferred_batch_size().begin(),
                                         batching.preferred_batch_size().end());
  }
  if (!config.instance_group().empty()) {
    // Triton's default count is one instance per group.
    options.instances = std::accumulate(
        config.instance_group().begin(), config.instance_group().end(), 0,
        [](int sum, const oip::ModelInstanceGroup& group) { return sum + (group.count() > 0 ? group.count() : 1); });
  }
  if (const std::string* threads = FindParameter(config, kComputeThreadsParameter)) {
    int value = 0;
    std::from_chars(threads->data(), threads->data() + threads->size(), value);
    if (value > 0) options.compute_threads = value;  // validated when the file was read
  }
  return options;
}

engine::Precision PrecisionFor(const ModelFolderConfig& folder, engine::Precision fallback) {
  const std::string* precision = FindParameter(folder.config, kPrecisionParameter);
  if (precision == nullptr) return fallback;
  const StatusOr<engine::Precision> parsed = engine::ParsePrecision(*precision);
  return parsed.ok() ? *parsed : fallback;
}

VersionPolicy VersionPolicyFor(const ModelFolderConfig& folder, const VersionPolicy& fallback) {
  if (!folder.config.has_version_policy()) return fallback;
  const oip::ModelVersionPolicy& message = folder.config.version_policy();
  VersionPolicy policy;
  if (message.has_all()) {
    policy.kind = VersionPolicy::Kind::kAll;
  } else if (message.has_specific()) {
    policy.kind = VersionPolicy::Kind::kSpecific;
    std::set<int64_t> versions(message.specific().versions().begin(), message.specific().versions().end());
    policy.versions.assign(versions.begin(), versions.end());
  } else {
    policy.latest_count = std::max<int64_t>(message.latest().num_versions(), 1);
  }
  return policy;
}

oip::ModelVersionPolicy VersionPolicyMessage(const VersionPolicy& policy) {
  oip::ModelVersionPolicy message;
  switch (policy.kind) {
    case VersionPolicy::Kind::kAll:
      message.mutable_all();
      break;
    case VersionPolicy::Kind::kLatest:
      message.mutable_latest()->set_num_versions(static_cast<uint32_t>(policy.latest_count));
      break;
    case VersionPolicy::Kind::kSpecific:
      for (int64_t version : policy.versions) message.mutable_specific()->add_versions(version);
      break;
  }
  return message;
}

std::vector<std::pair<std::string, std::string>> MetadataOverrides(const ModelFolderConfig& folder) {
  std::vector<std::pair<std::string, std::string>> entries;
  if (!folder.labels.empty()) {
    std::string joined;
    for (const std::string& label : folder.labels) {
      if (!joined.empty()) joined += '\n';
      joined += label;
    }
    entries.emplace_back("fovea.labels", joined);
  }
  const oip::ModelConfig& config = folder.config;
  if (!config.input().empty() && config.input(0).format() != oip::ModelInput::FORMAT_NONE) {
    entries.emplace_back("fovea.input.layout",
                         config.input(0).format() == oip::ModelInput::FORMAT_NHWC ? "NHWC" : "NCHW");
  }
  constexpr std::pair<const char*, const char*> kParameterKeys[] = {
      {kMeanParameter, "fovea.input.mean"},
      {kStdParameter, "fovea.input.std"},
      {kChannelOrderParameter, "fovea.input.channel_order"},
      {kResizeModeParameter, "fovea.input.resize_mode"},
      {kResizeShorterSideParameter, "fovea.input.resize_shorter_side"},
      {kScoresParameter, "fovea.output.scores"},
  };
  for (const auto& [parameter, key] : kParameterKeys) {
    if (const std::string* value = FindParameter(config, parameter)) entries.emplace_back(key, *value);
  }
  return entries;
}

void LogNotImplementedOnce(const std::string& name, const ModelFolderConfig& folder) {
  static std::mutex mutex;
  static std::set<std::pair<std::string, std::string>> logged;
  for (const std::string& field : folder.not_implemented) {
    {
      std::lock_guard lock(mutex);
      if (!logged.emplace(name, field).second) continue;
    }
    spdlog::warn("model '{}': {} sets {}, which fovea-server does not implement; it is ignored", name, folder.source,
                 field);
  }
}

}  // namespace fovea::server
