#include "modelio/metadata.h"

#include <charconv>
#include <cmath>
#include <set>

namespace fovea::modelio {
namespace {

constexpr char kInputPrefix[] = "fovea.input.";
constexpr int64_t kMaxInputExtent = int64_t{1} << 16;  // pixels per side; anything larger is a typo, not an image
constexpr int64_t kMaxInputChannels = 4096;

std::string_view Trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

StatusOr<int64_t> ParseInteger(const std::string& text, const std::string& key, int64_t min, int64_t max) {
  const std::string_view trimmed = Trim(text);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  if (trimmed.empty() || error != std::errc() || end != trimmed.data() + trimmed.size() || value < min || value > max) {
    return InvalidArgument("metadata '" + key + "' must be an integer in [" + std::to_string(min) + ", " +
                           std::to_string(max) + "], got '" + text + "'");
  }
  return value;
}

// The image input's dims as (channels, height, width) for `layout`, or zeros when not static.
struct InputDims {
  int64_t channels = 0, height = 0, width = 0;
};

InputDims StaticInputDims(const engine::ValueInfo* input, const std::string& layout) {
  constexpr size_t kImageRank = 4;
  if (input == nullptr || input->shape.size() != kImageRank) return {};
  const auto& s = input->shape;
  auto known = [](int64_t d) { return d > 0 ? d : int64_t{0}; };
  if (layout == "NHWC") return {known(s[3]), known(s[1]), known(s[2])};
  return {known(s[1]), known(s[2]), known(s[3])};
}

// Sets `field` from `key` if present, else from the graph; a value contradicting a static graph dim is an error.
Status ResolveExtent(const std::map<std::string, std::string>& props, const std::string& key, int64_t graph_value,
                     int64_t max, int64_t& field) {
  auto it = props.find(key);
  if (it == props.end()) {
    field = graph_value;
    return OkStatus();
  }
  FOVEA_ASSIGN_OR_RETURN(field, ParseInteger(it->second, key, 1, max));
  if (graph_value > 0 && field != graph_value) {
    return InvalidArgument("metadata '" + key + "' is " + std::to_string(field) + " but the graph input has " +
                           std::to_string(graph_value));
  }
  return OkStatus();
}

Status ParseNormalization(const std::map<std::string, std::string>& props, engine::ModelMetadata& metadata) {
  for (const char* key : {kInputMeanKey, kInputStdKey}) {
    auto it = props.find(key);
    if (it == props.end()) continue;
    FOVEA_ASSIGN_OR_RETURN(std::vector<float> values, ParseFloatList(it->second, key));
    const auto count = static_cast<int64_t>(values.size());
    if (metadata.input_channels > 0 && count != 1 && count != metadata.input_channels) {
      return InvalidArgument("metadata '" + std::string(key) + "' has " + std::to_string(count) +
                             " values; expected 1 or one per input channel (" +
                             std::to_string(metadata.input_channels) + ")");
    }
    if (key == std::string_view(kInputStdKey)) {
      for (float v : values) {
        if (!(v > 0.0f)) return InvalidArgument("metadata '" + std::string(key) + "' values must be positive");
      }
      metadata.std = std::move(values);
    } else {
      metadata.mean = std::move(values);
    }
  }
  return OkStatus();
}

Status CheckKnownInputKeys(const std::map<std::string, std::string>& props) {
  static const std::set<std::string, std::less<>> kInputKeys = {
      kInputLayoutKey,       kInputChannelsKey,   kInputHeightKey,
      kInputWidthKey,        kInputMeanKey,       kInputStdKey,
      kInputChannelOrderKey, kInputResizeModeKey, kInputResizeShorterSideKey};
  for (const auto& [key, value] : props) {
    if (key.starts_with(kInputPrefix) && !kInputKeys.contains(key)) {
      return InvalidArgument("unknown metadata key '" + key +
                             "'; known input keys: fovea.input.layout, .channels, .height, .width, .mean, .std, "
                             ".channel_order, .resize_mode, .resize_shorter_side");
    }
  }
  return OkStatus();
}

// The preprocessing keys the server interprets are checked here, so a bad value fails the load naming the key.
Status CheckPreprocessingKeys(const std::map<std::string, std::string>& props) {
  const auto check_choice = [&props](const char* key, const char* first, const char* second) -> Status {
    const auto it = props.find(key);
    if (it == props.end() || it->second == first || it->second == second) return OkStatus();
    return InvalidArgument("metadata '" + std::string(key) + "' must be " + first + " or " + second + ", got '" +
                           it->second + "'");
  };
  FOVEA_RETURN_IF_ERROR(check_choice(kInputChannelOrderKey, "RGB", "BGR"));
  FOVEA_RETURN_IF_ERROR(check_choice(kInputResizeModeKey, "stretch", "crop"));
  if (const auto it = props.find(kInputResizeShorterSideKey); it != props.end()) {
    FOVEA_RETURN_IF_ERROR(ParseInteger(it->second, it->first, 1, kMaxInputExtent).status());
  }
  return OkStatus();
}

Status ParseLabelsAndBackground(const std::map<std::string, std::string>& props, const engine::ValueInfo* class_output,
                                engine::ModelMetadata& metadata) {
  if (auto it = props.find(kLabelsKey); it != props.end()) {
    FOVEA_ASSIGN_OR_RETURN(metadata.labels, ParseLabels(it->second));
    const auto count = static_cast<int64_t>(metadata.labels.size());
    // Only a [N, classes] output is surely the class scores; dense maps and features are not checked.
    constexpr size_t kScoresRank = 2;
    if (class_output != nullptr && class_output->shape.size() == kScoresRank && class_output->shape.back() > 0 &&
        class_output->shape.back() != count) {
      return InvalidArgument("metadata '" + std::string(kLabelsKey) + "' has " + std::to_string(count) +
                             " labels but output '" + class_output->name + "' has " +
                             std::to_string(class_output->shape.back()) + " classes");
    }
  }
  if (auto it = props.find(kBackgroundClassKey); it != props.end()) {
    const int64_t max_class = metadata.labels.empty() ? INT32_MAX : static_cast<int64_t>(metadata.labels.size()) - 1;
    FOVEA_ASSIGN_OR_RETURN(metadata.background_class, ParseInteger(it->second, kBackgroundClassKey, 0, max_class));
  }
  return OkStatus();
}

}  // namespace

StatusOr<std::vector<std::string>> ParseLabels(const std::string& text) {
  std::vector<std::string> labels;
  std::string_view rest = text;
  if (rest.ends_with('\n')) rest.remove_suffix(1);
  if (rest.ends_with('\r')) rest.remove_suffix(1);
  while (true) {
    const auto newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty()) {
      return InvalidArgument("metadata '" + std::string(kLabelsKey) + "': label " + std::to_string(labels.size()) +
                             " is empty (one non-empty label per line expected)");
    }
    labels.emplace_back(line);
    if (newline == std::string_view::npos) break;
    rest.remove_prefix(newline + 1);
  }
  return labels;
}

StatusOr<std::vector<float>> ParseFloatList(const std::string& text, const std::string& key) {
  std::vector<float> values;
  std::string_view rest = text;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    float value = 0.0f;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || !std::isfinite(value)) {
      return InvalidArgument("metadata '" + key + "' must be comma-separated numbers, got '" + text + "'");
    }
    values.push_back(value);
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  return values;
}

StatusOr<engine::ModelMetadata> ParseMetadata(const MetadataEntries& entries, const engine::ValueInfo* image_input,
                                              const engine::ValueInfo* class_output) {
  engine::ModelMetadata metadata;
  for (const auto& [key, value] : entries) {
    auto [it, inserted] = metadata.properties.emplace(key, value);
    // A repeated entry with the same value is harmless (a re-export may write it twice); conflicting ones are not.
    if (!inserted && it->second != value) {
      return InvalidArgument("metadata key '" + key + "' appears more than once with different values");
    }
  }
  const auto& props = metadata.properties;
  FOVEA_RETURN_IF_ERROR(CheckKnownInputKeys(props));
  FOVEA_RETURN_IF_ERROR(CheckPreprocessingKeys(props));
  if (auto it = props.find(kInputLayoutKey); it != props.end()) {
    if (it->second != "NCHW" && it->second != "NHWC") {
      return InvalidArgument("metadata '" + std::string(kInputLayoutKey) + "' must be NCHW or NHWC, got '" +
                             it->second + "'");
    }
    metadata.input_layout = it->second;
  }
  const InputDims dims = StaticInputDims(image_input, metadata.input_layout);
  FOVEA_RETURN_IF_ERROR(
      ResolveExtent(props, kInputChannelsKey, dims.channels, kMaxInputChannels, metadata.input_channels));
  FOVEA_RETURN_IF_ERROR(ResolveExtent(props, kInputHeightKey, dims.height, kMaxInputExtent, metadata.input_height));
  FOVEA_RETURN_IF_ERROR(ResolveExtent(props, kInputWidthKey, dims.width, kMaxInputExtent, metadata.input_width));
  FOVEA_RETURN_IF_ERROR(ParseNormalization(props, metadata));
  FOVEA_RETURN_IF_ERROR(ParseLabelsAndBackground(props, class_output, metadata));
  return metadata;
}

}  // namespace fovea::modelio
