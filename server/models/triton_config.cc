#include "server/models/triton_config.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

namespace fovea::server {
namespace {

namespace oip = ::inference;

constexpr char kModelFileName[] = "model.onnx";
constexpr int64_t kMaxBatchSize = int64_t{1} << 16;
constexpr int64_t kMaxInstances = 64;
constexpr int64_t kMaxComputeThreads = 1024;
constexpr int64_t kMaxResizeSide = 65536;

// Collects what protobuf's text parser reports: the first error (the parse stops there) and every warning, which is
// how it reports a field it skipped because the message has no such field.
class RecordingCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (error_.empty()) error_ = std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber /*column*/, const std::string& message) override {
    const std::string name = SkippedName(message);
    // The content of the placeholders is skipped by design; NotImplementedFields names the placeholder itself.
    for (const char* placeholder : {"ModelWarmup.", "BatchInput.", "BatchOutput."}) {
      if (name.starts_with(placeholder)) return;
    }
    skipped_.push_back(name + " (line " + std::to_string(line + 1) + ")");
  }
  const std::string& error() const { return error_; }
  std::vector<std::string>& skipped() { return skipped_; }

 private:
  // `Message type "inference.ModelConfig" has no field named "optimization".` → "ModelConfig.optimization"; any
  // other warning is kept whole.
  static std::string SkippedName(const std::string& message) {
    static constexpr std::string_view kType = "Message type \"inference.";
    static constexpr std::string_view kField = "\" has no field named \"";
    const size_t field_at = message.find(kField);
    if (!message.starts_with(kType) || field_at == std::string::npos) return message;
    const size_t start = field_at + kField.size();
    return message.substr(kType.size(), field_at - kType.size()) + "." +
           message.substr(start, message.find('"', start) - start);
  }

  std::string error_;
  std::vector<std::string> skipped_;
};

bool IsFoveaParameter(const std::string& key) {
  static const std::set<std::string> kKnown = {
      kMeanParameter,      kStdParameter,    kChannelOrderParameter,  kResizeModeParameter, kResizeShorterSideParameter,
      kPrecisionParameter, kScoresParameter, kComputeThreadsParameter};
  return kKnown.contains(key);
}

void NoteInputFields(const oip::ModelInput& input, const std::string& at, std::vector<std::string>& out) {
  if (input.has_reshape()) out.push_back(at + ".reshape");
  if (input.is_shape_tensor()) out.push_back(at + ".is_shape_tensor");
  if (input.allow_ragged_batch()) out.push_back(at + ".allow_ragged_batch");
  if (input.optional()) out.push_back(at + ".optional");
}

void NoteOutputFields(const oip::ModelOutput& output, const std::string& at, bool first,
                      std::vector<std::string>& out) {
  if (output.has_reshape()) out.push_back(at + ".reshape");
  if (output.is_shape_tensor()) out.push_back(at + ".is_shape_tensor");
  // Fovea's labels belong to the model's first output, the one Classify and its class count use.
  if (!first && !output.label_filename().empty()) out.push_back(at + ".label_filename (only the first output's)");
}

void NoteInstanceFields(const oip::ModelInstanceGroup& group, const std::string& at, std::vector<std::string>& out) {
  if (group.kind() == oip::ModelInstanceGroup::KIND_GPU || group.kind() == oip::ModelInstanceGroup::KIND_MODEL) {
    out.push_back(at + ".kind " + oip::ModelInstanceGroup::Kind_Name(group.kind()) + " (runs on CPU)");
  }
  if (!group.gpus().empty()) out.push_back(at + ".gpus");
  if (!group.profile().empty()) out.push_back(at + ".profile");
  if (group.passive()) out.push_back(at + ".passive");
  if (!group.host_policy().empty()) out.push_back(at + ".host_policy");
}

void NoteBatchingFields(const oip::ModelDynamicBatching& batching, std::vector<std::string>& out) {
  if (batching.preserve_ordering()) out.push_back("dynamic_batching.preserve_ordering");
  if (batching.priority_levels() != 0) out.push_back("dynamic_batching.priority_levels");
  if (batching.default_priority_level() != 0) out.push_back("dynamic_batching.default_priority_level");
  if (!batching.priority_queue_policy().empty()) out.push_back("dynamic_batching.priority_queue_policy");
  const oip::ModelQueuePolicy& queue = batching.default_queue_policy();
  if (queue.timeout_action() != oip::ModelQueuePolicy::REJECT) {
    out.push_back("dynamic_batching.default_queue_policy.timeout_action");
  }
  if (queue.default_timeout_microseconds() != 0) {
    out.push_back("dynamic_batching.default_queue_policy.default_timeout_microseconds");
  }
  if (queue.allow_timeout_override()) out.push_back("dynamic_batching.default_queue_policy.allow_timeout_override");
}

Status Invalid(const std::string& field, const std::string& why) { return InvalidArgument(field + ": " + why); }

StatusOr<int64_t> ParseInteger(const std::string& text, int64_t min, int64_t max, const std::string& field) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Invalid(field,
                   "'" + text + "' is not an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return value;
}

Status CheckFloatList(const std::string& text, bool positive, const std::string& field) {
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    float value = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc() || end != item.data() + item.size() || !std::isfinite(value) ||
        (positive && value <= 0)) {
      return Invalid(field,
                     "'" + text + "' is not a comma-separated list of " + (positive ? "positive " : "") + "numbers");
    }
    if (comma == std::string_view::npos) return OkStatus();
    rest.remove_prefix(comma + 1);
  }
}

Status CheckChoice(const std::string& value, std::initializer_list<const char*> choices, const std::string& field) {
  std::string names;
  for (const char* choice : choices) {
    if (value == choice) return OkStatus();
    names += (names.empty() ? "" : ", ") + std::string(choice);
  }
  return Invalid(field, "'" + value + "' is not one of " + names);
}

// Fovea's parameters, each checked the way it will be used; other keys are only reported (NotImplementedFields).
Status ValidateParameters(const oip::ModelConfig& config) {
  for (const auto& [key, parameter] : config.parameters()) {
    const std::string field = "parameters[" + key + "]";
    const std::string& value = parameter.string_value();
    if (key == kMeanParameter) FOVEA_RETURN_IF_ERROR(CheckFloatList(value, false, field));
    if (key == kStdParameter) FOVEA_RETURN_IF_ERROR(CheckFloatList(value, true, field));
    if (key == kChannelOrderParameter) FOVEA_RETURN_IF_ERROR(CheckChoice(value, {"RGB", "BGR"}, field));
    if (key == kResizeModeParameter) FOVEA_RETURN_IF_ERROR(CheckChoice(value, {"stretch", "crop"}, field));
    if (key == kResizeShorterSideParameter)
      FOVEA_RETURN_IF_ERROR(ParseInteger(value, 1, kMaxResizeSide, field).status());
    if (key == kPrecisionParameter) FOVEA_RETURN_IF_ERROR(CheckChoice(value, {"fp32", "bf16"}, field));
    if (key == kScoresParameter) FOVEA_RETURN_IF_ERROR(CheckChoice(value, {"softmax", "sigmoid", "none"}, field));
    if (key == kComputeThreadsParameter) {
      FOVEA_RETURN_IF_ERROR(ParseInteger(value, 1, kMaxComputeThreads, field).status());
    }
  }
  return OkStatus();
}

Status ValidatePlatform(const oip::ModelConfig& config) {
  if (!config.platform().empty() && config.platform() != kOnnxPlatform) {
    return Invalid("platform", "'" + config.platform() + "' is not served; fovea-server runs ONNX models (platform \"" +
                                   kOnnxPlatform + "\" or backend \"" + kOnnxBackend + "\")");
  }
  if (!config.backend().empty() && config.backend() != kOnnxBackend) {
    return Invalid("backend", "'" + config.backend() + "' is not served; fovea-server runs ONNX models (platform \"" +
                                  kOnnxPlatform + "\" or backend \"" + kOnnxBackend + "\")");
  }
  return OkStatus();
}

Status ValidateBatching(const oip::ModelConfig& config) {
  if (config.max_batch_size() < 0 || config.max_batch_size() > kMaxBatchSize) {
    return Invalid("max_batch_size",
                   std::to_string(config.max_batch_size()) + " is outside [0, " + std::to_string(kMaxBatchSize) + "]");
  }
  for (int32_t size : config.dynamic_batching().preferred_batch_size()) {
    const int64_t limit = std::max<int64_t>(config.max_batch_size(), 1);
    if (size < 1 || size > limit) {
      return Invalid("dynamic_batching.preferred_batch_size",
                     std::to_string(size) + " is outside [1, max_batch_size " + std::to_string(limit) + "]");
    }
  }
  int64_t instances = 0;
  for (const oip::ModelInstanceGroup& group : config.instance_group()) {
    if (group.count() < 0) return Invalid("instance_group.count", std::to_string(group.count()) + " is negative");
    instances += group.count();
  }
  if (instances > kMaxInstances) {
    return Invalid("instance_group.count", "the groups hold " + std::to_string(instances) + " instances, over " +
                                               std::to_string(kMaxInstances));
  }
  return OkStatus();
}

Status ValidateVersionPolicy(const oip::ModelConfig& config) {
  if (!config.has_version_policy()) return OkStatus();
  const oip::ModelVersionPolicy& policy = config.version_policy();
  if (policy.has_latest() && policy.latest().num_versions() == 0) {
    return Invalid("version_policy.latest.num_versions", "must be at least 1");
  }
  if (policy.has_specific()) {
    if (policy.specific().versions().empty()) return Invalid("version_policy.specific", "lists no version");
    for (int64_t version : policy.specific().versions()) {
      if (version <= 0)
        return Invalid("version_policy.specific.versions", std::to_string(version) + " is not positive");
    }
  }
  if (policy.policy_choice_case() == oip::ModelVersionPolicy::POLICY_CHOICE_NOT_SET) {
    return Invalid("version_policy", "set one of latest, all or specific");
  }
  return OkStatus();
}

// Whether configured dims `want` (-1 free) describe actual dims `have` (-1 free).
bool DimsAgree(const std::vector<int64_t>& want, const std::vector<int64_t>& have) {
  if (want.size() != have.size()) return false;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != -1 && have[i] != -1 && want[i] != have[i]) return false;
  }
  return true;
}

template <typename Tensor>
Status CheckTensor(const Tensor& configured, const std::vector<TensorSignature>& actual, bool batched,
                   const char* kind) {
  const auto found = std::find_if(actual.begin(), actual.end(),
                                  [&](const TensorSignature& tensor) { return tensor.name == configured.name(); });
  if (found == actual.end()) {
    std::string names;
    for (const TensorSignature& tensor : actual) names += (names.empty() ? "" : ", ") + tensor.name;
    return InvalidArgument(std::string(kind) + " '" + configured.name() + "' is not in the model; its " + kind +
                           "s: " + names);
  }
  if (configured.data_type() != oip::TYPE_INVALID && configured.data_type() != found->data_type) {
    return InvalidArgument(std::string(kind) + " '" + configured.name() + "': data_type " +
                           oip::DataType_Name(configured.data_type()) + " but the model's is " +
                           oip::DataType_Name(found->data_type));
  }
  if (configured.dims().empty()) return OkStatus();
  std::vector<int64_t> have = found->dims;
  // With max_batch_size > 0 Triton's dims leave out the batch, the model's first dimension.
  if (batched && !have.empty()) have.erase(have.begin());
  const std::vector<int64_t> want(configured.dims().begin(), configured.dims().end());
  if (!DimsAgree(want, have)) {
    return InvalidArgument(std::string(kind) + " '" + configured.name() + "': config.pbtxt dims " + DimsText(want) +
                           " but the model has " + DimsText(have) +
                           (batched ? " (without the batch dimension, as max_batch_size > 0)"
                                    : " (with the batch dimension, as max_batch_size is 0)"));
  }
  return OkStatus();
}

// The field a JSON member names: by its proto name ("max_batch_size") or its JSON name ("maxBatchSize").
const google::protobuf::FieldDescriptor* FieldNamed(const google::protobuf::Descriptor& type, const std::string& key) {
  if (const google::protobuf::FieldDescriptor* field = type.FindFieldByName(key)) return field;
  for (int i = 0; i < type.field_count(); ++i) {
    if (type.field(i)->json_name() == key) return type.field(i);
  }
  return nullptr;
}

// Removes the members of `object` that `type` has no field for and names them in `out`, recursing into messages,
// lists of messages and the values of maps of messages; `path` prefixes the names ("input[0].reshape"). Sorted by
// name at each level, so the log line is the same on every load.
void RemoveUnknownJsonFields(google::protobuf::Struct& object, const google::protobuf::Descriptor& type,
                             const std::string& path, std::vector<std::string>& out) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.fields()) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  for (const std::string& key : keys) {
    google::protobuf::Value& value = object.mutable_fields()->at(key);
    const google::protobuf::FieldDescriptor* field = FieldNamed(type, key);
    const std::string name = path.empty() ? key : path + "." + key;
    if (field == nullptr) {
      out.push_back(name);
      object.mutable_fields()->erase(key);
      continue;
    }
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    if (field->is_map()) {
      const google::protobuf::FieldDescriptor* mapped = field->message_type()->map_value();
      if (mapped->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
      for (auto& [entry, entry_value] : *value.mutable_struct_value()->mutable_fields()) {
        RemoveUnknownJsonFields(*entry_value.mutable_struct_value(), *mapped->message_type(), name + "[" + entry + "]",
                                out);
      }
    } else if (field->is_repeated()) {
      for (int i = 0; i < value.list_value().values_size(); ++i) {
        google::protobuf::Value& item = *value.mutable_list_value()->mutable_values(i);
        if (item.has_struct_value()) {
          RemoveUnknownJsonFields(*item.mutable_struct_value(), *field->message_type(),
                                  name + "[" + std::to_string(i) + "]", out);
        }
      }
    } else if (value.has_struct_value()) {
      RemoveUnknownJsonFields(*value.mutable_struct_value(), *field->message_type(), name, out);
    }
  }
}

}  // namespace

std::string DimsText(const std::vector<int64_t>& dims) {
  std::string text = "[";
  for (size_t i = 0; i < dims.size(); ++i) text += (i == 0 ? "" : ", ") + std::to_string(dims[i]);
  return text + "]";
}

StatusOr<ParsedTritonConfig> ParseTritonConfig(std::string_view text, const std::string& source) {
  google::protobuf::TextFormat::Parser parser;
  RecordingCollector collector;
  parser.RecordErrorsTo(&collector);
  // A Triton config may use any field of Triton's full proto; Fovea's subset skips the rest and names them.
  parser.AllowUnknownField(true);
  parser.AllowUnknownExtension(true);
  ParsedTritonConfig parsed;
  if (!parser.ParseFromString(std::string(text), &parsed.config)) {
    return InvalidArgument(source + ":" +
                           (collector.error().empty() ? "1:1: not a text-format ModelConfig" : collector.error()));
  }
  parsed.not_implemented = std::move(collector.skipped());
  for (std::string& field : NotImplementedFields(parsed.config)) parsed.not_implemented.push_back(std::move(field));
  return parsed;
}

StatusOr<ParsedTritonConfig> ParseTritonConfigJson(std::string_view text, const std::string& source) {
  // Read as a generic JSON object first, so that the members Fovea's subset lacks can be named and taken out; the
  // rest is then parsed strictly, so a wrong type or an unknown enum value is an error rather than silently dropped.
  google::protobuf::Struct object;
  if (const auto status = google::protobuf::util::JsonStringToMessage(std::string(text), &object); !status.ok()) {
    return InvalidArgument(source + " is not a JSON object: " + std::string(status.message()));
  }
  ParsedTritonConfig parsed;
  RemoveUnknownJsonFields(object, *oip::ModelConfig::descriptor(), "", parsed.not_implemented);
  std::string known;
  if (const auto status = google::protobuf::util::MessageToJsonString(object, &known); !status.ok()) {
    return Internal(source + " cannot be written back as JSON: " + std::string(status.message()));
  }
  if (const auto status = google::protobuf::util::JsonStringToMessage(known, &parsed.config); !status.ok()) {
    return InvalidArgument(source + " is not a ModelConfig: " + std::string(status.message()));
  }
  for (std::string& field : NotImplementedFields(parsed.config)) parsed.not_implemented.push_back(std::move(field));
  return parsed;
}

std::vector<std::string> NotImplementedFields(const oip::ModelConfig& config) {
  std::vector<std::string> out;
  for (int i = 0; i < config.input_size(); ++i) {
    NoteInputFields(config.input(i), "input[" + std::to_string(i) + "]", out);
  }
  for (int i = 0; i < config.output_size(); ++i) {
    NoteOutputFields(config.output(i), "output[" + std::to_string(i) + "]", i == 0, out);
  }
  for (int i = 0; i < config.instance_group_size(); ++i) {
    NoteInstanceFields(config.instance_group(i), "instance_group[" + std::to_string(i) + "]", out);
  }
  NoteBatchingFields(config.dynamic_batching(), out);
  if (!config.metric_tags().empty()) out.push_back("metric_tags");
  if (!config.model_warmup().empty()) out.push_back("model_warmup");
  if (!config.batch_input().empty()) out.push_back("batch_input");
  if (!config.batch_output().empty()) out.push_back("batch_output");
  if (!config.default_model_filename().empty() && config.default_model_filename() != kModelFileName) {
    out.push_back("default_model_filename (Fovea reads <version>/model.onnx)");
  }
  if (!config.runtime().empty()) out.push_back("runtime");
  // The map's order is unspecified; sorted, the log line is the same on every load.
  std::vector<std::string> foreign;
  for (const auto& [key, value] : config.parameters()) {
    if (!IsFoveaParameter(key)) foreign.push_back("parameters[" + key + "]");
  }
  std::sort(foreign.begin(), foreign.end());
  out.insert(out.end(), foreign.begin(), foreign.end());
  return out;
}

Status ValidateTritonConfig(const oip::ModelConfig& config, const std::string& folder_name) {
  if (!config.name().empty() && config.name() != folder_name) {
    return Invalid("name", "'" + config.name() + "' differs from the model's folder name '" + folder_name +
                               "' (Triton requires them to be equal)");
  }
  FOVEA_RETURN_IF_ERROR(ValidatePlatform(config));
  FOVEA_RETURN_IF_ERROR(ValidateBatching(config));
  FOVEA_RETURN_IF_ERROR(ValidateVersionPolicy(config));
  for (const oip::ModelInput& input : config.input()) {
    if (input.name().empty()) return Invalid("input", "an input has no name");
  }
  for (const oip::ModelOutput& output : config.output()) {
    if (output.name().empty()) return Invalid("output", "an output has no name");
  }
  return ValidateParameters(config);
}

Status CheckConfigAgainstModel(const oip::ModelConfig& config, const std::vector<TensorSignature>& inputs,
                               const std::vector<TensorSignature>& outputs) {
  const bool batched = config.max_batch_size() > 0;
  for (const oip::ModelInput& input : config.input()) {
    FOVEA_RETURN_IF_ERROR(CheckTensor(input, inputs, batched, "input"));
  }
  for (const oip::ModelOutput& output : config.output()) {
    FOVEA_RETURN_IF_ERROR(CheckTensor(output, outputs, batched, "output"));
  }
  return OkStatus();
}

}  // namespace fovea::server
