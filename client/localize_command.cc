// `fovea localize`: one Localize call per image; writes a heatmap overlay PNG per image and class, and every input's
// detections (or error) to one JSON file.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include "client/cli_args.h"
#include "client/commands.h"
#include "client/connection_flags.h"
#include "client/fovea_client.h"
#include "client/input_files.h"
#include "common/json_text.h"

namespace fovea::client {
namespace {

constexpr int kDefaultLocalizeTimeoutSeconds = 120;
constexpr char kDetectionsFile[] = "detections.json";

struct LocalizeOptions {
  std::string server = kDefaultServer;
  std::string model;
  int64_t version = 0;
  std::filesystem::path out;
  v1::LocalizationMethod method = v1::LOCALIZATION_METHOD_UNSPECIFIED;
  std::vector<int64_t> classes;
  int32_t stride = 0;
  std::optional<float> threshold;
  std::optional<float> nms_iou;
  int timeout_seconds = kDefaultLocalizeTimeoutSeconds;
};

// One input's answer, or why there is none.
struct LocalizeOutcome {
  std::string path;
  v1::LocalizeResponse response;
  std::vector<std::string> overlays;  // files written
  int error_code = 0;
  std::string error_message;
};

const std::vector<FlagDef> kLocalizeFlags = WithConnectionFlags({{"model"},
                                                                 {"version"},
                                                                 {"out"},
                                                                 {"method"},
                                                                 {"classes"},
                                                                 {"stride"},
                                                                 {"threshold"},
                                                                 {"nms-iou"},
                                                                 {"timeout"},
                                                                 {"help", false}});

std::optional<v1::LocalizationMethod> ParseMethod(const std::string& text) {
  if (text == "cam") return v1::LOCALIZATION_METHOD_CAM;
  if (text == "gradcam" || text == "grad-cam") return v1::LOCALIZATION_METHOD_GRAD_CAM;
  if (text == "dense") return v1::LOCALIZATION_METHOD_DENSE;
  if (text == "auto") return v1::LOCALIZATION_METHOD_UNSPECIFIED;
  return std::nullopt;
}

std::optional<float> ParseFraction(const std::string& text) {
  try {
    size_t used = 0;
    const float value = std::stof(text, &used);
    if (used == text.size()) return value;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

std::string ReadClasses(const std::string& text, std::vector<int64_t>& classes) {
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    const std::optional<long long> value = ParseInteger(item, 0, INT64_MAX);
    if (!value) return "--classes must be a comma-separated list of class indices, got '" + text + "'";
    classes.push_back(*value);
  }
  return "";
}

std::string ReadOptions(const ParsedArgs& args, LocalizeOptions& options, ClientOptions& client_options) {
  if (std::string error = ReadConnectionFlags(args, options.server, client_options); !error.empty()) return error;
  options.model = args.value_or("model", "");
  options.out = args.value_or("out", "");
  if (options.out.empty()) return "--out DIR is required";
  const std::optional<v1::LocalizationMethod> method = ParseMethod(args.value_or("method", "auto"));
  if (!method) return "--method must be cam, gradcam, dense or auto";
  options.method = *method;
  if (args.values.contains("classes")) {
    if (std::string error = ReadClasses(args.values.at("classes"), options.classes); !error.empty()) return error;
  }
  // Stride, threshold and IoU are passed through: the server owns their valid ranges and names them in its errors.
  const auto integer = [&](const std::string& name, long long min, long long max, auto& field) -> std::string {
    if (!args.values.contains(name)) return "";
    const std::optional<long long> value = ParseInteger(args.values.at(name), min, max);
    if (!value)
      return "--" + name + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
    field = static_cast<std::remove_reference_t<decltype(field)>>(*value);
    return "";
  };
  for (std::string error :
       {integer("version", 0, INT64_MAX, options.version), integer("stride", INT32_MIN, INT32_MAX, options.stride),
        integer("timeout", 1, INT32_MAX, options.timeout_seconds)}) {
    if (!error.empty()) return error;
  }
  for (const auto& [name, field] : {std::pair{"threshold", &options.threshold}, {"nms-iou", &options.nms_iou}}) {
    if (!args.values.contains(name)) continue;
    *field = ParseFraction(args.values.at(name));
    if (!*field) return std::string("--") + name + " must be a number";
  }
  return "";
}

// A file-name-safe version of a class label ("T-shirt/top" → "T-shirt_top").
std::string Slug(const std::string& text) {
  std::string slug;
  for (char c : text) slug += std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_';
  return slug;
}

// Writes the overlays of `outcome` as <stem>.<class>-<label>.png; `stem` is unique among the inputs.
void WriteOverlays(const std::filesystem::path& out, const std::string& stem, LocalizeOutcome& outcome) {
  for (const v1::Heatmap& heatmap : outcome.response.heatmaps()) {
    if (heatmap.overlay_png().empty()) continue;
    const std::filesystem::path file =
        out / (stem + "." + std::to_string(heatmap.class_index()) + "-" + Slug(heatmap.label()) + ".png");
    std::ofstream stream(file, std::ios::binary);
    stream.write(heatmap.overlay_png().data(), static_cast<std::streamsize>(heatmap.overlay_png().size()));
    if (!stream) {
      outcome.error_code = static_cast<int>(grpc::StatusCode::UNKNOWN);
      outcome.error_message = "cannot write " + file.string();
      return;
    }
    outcome.overlays.push_back(file.string());
  }
}

void Localize(const FoveaClient& client, const LocalizeOptions& options, const std::string& model,
              LocalizeOutcome& outcome) {
  std::ifstream file(outcome.path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) {
    outcome.error_code = static_cast<int>(grpc::StatusCode::NOT_FOUND);
    outcome.error_message = "cannot read file";
    return;
  }
  v1::LocalizeRequest request;
  request.set_model_name(model);
  request.set_model_version(options.version);
  request.mutable_image()->set_encoded(std::move(bytes));
  request.mutable_image()->set_id(outcome.path);
  request.set_method(options.method);
  for (int64_t c : options.classes) request.add_class_indices(c);
  request.set_stride(options.stride);
  if (options.threshold) request.set_score_threshold(*options.threshold);
  if (options.nms_iou) request.set_nms_iou(*options.nms_iou);
  request.set_render_overlays(true);
  const grpc::Status status = client.Localize(request, &outcome.response);
  if (!status.ok()) {
    outcome.error_code = status.error_code();
    outcome.error_message = status.error_message();
  }
}

std::string JsonString(const std::string& text) {
  std::string quoted(1, '"');
  quoted.append(common::JsonEscape(text));
  quoted.push_back('"');
  return quoted;
}

void WriteDetectionJson(std::ostream& json, const v1::Detection& d) {
  json << "{\"class_index\": " << d.class_index() << ", \"label\": " << JsonString(d.label())
       << ", \"score\": " << d.score() << ", \"box\": {\"x_min\": " << d.box().x_min()
       << ", \"y_min\": " << d.box().y_min() << ", \"x_max\": " << d.box().x_max() << ", \"y_max\": " << d.box().y_max()
       << "}}";
}

void WriteOutcomeJson(std::ostream& json, const LocalizeOutcome& o) {
  json << "  {\"path\": " << JsonString(o.path);
  if (o.error_code != 0) {
    json << ", \"error\": {\"code\": " << JsonString(GrpcCodeName(o.error_code))
         << ", \"message\": " << JsonString(o.error_message) << "}}";
    return;
  }
  const v1::LocalizeResponse& r = o.response;
  json << ", \"model\": " << JsonString(r.model_name()) << ", \"version\": " << r.model_version()
       << ", \"method\": " << JsonString(v1::LocalizationMethod_Name(r.method())) << ", \"width\": " << r.image_width()
       << ", \"height\": " << r.image_height() << ", \"detections\": [";
  for (int i = 0; i < r.detections_size(); ++i) {
    json << (i ? ", " : "");
    WriteDetectionJson(json, r.detections(i));
  }
  json << "], \"overlays\": [";
  for (size_t i = 0; i < o.overlays.size(); ++i) json << (i ? ", " : "") << JsonString(o.overlays[i]);
  json << "]}";
}

bool WriteJson(const std::filesystem::path& file, const std::vector<LocalizeOutcome>& outcomes) {
  std::ofstream json(file);
  json << "[\n";
  for (size_t i = 0; i < outcomes.size(); ++i) {
    WriteOutcomeJson(json, outcomes[i]);
    json << (i + 1 < outcomes.size() ? ",\n" : "\n");
  }
  json << "]\n";
  return static_cast<bool>(json);
}

// One line per input on stdout: what was found, or the error.
void ReportOutcome(std::ostream& out, const LocalizeOutcome& o) {
  out << o.path << ": ";
  if (o.error_code != 0) {
    out << "ERROR " << GrpcCodeName(o.error_code) << ": " << o.error_message << "\n";
    return;
  }
  out << v1::LocalizationMethod_Name(o.response.method()) << ", " << o.response.detections_size() << " detection(s)";
  for (const v1::Detection& d : o.response.detections()) out << " [" << d.label() << " " << d.score() << "]";
  out << ", " << o.overlays.size() << " overlay(s)\n";
}

// File stems for the inputs, made unique with a counter when two inputs share one.
std::vector<std::string> UniqueStems(const std::vector<LocalizeOutcome>& outcomes) {
  std::map<std::string, int> seen;
  std::vector<std::string> stems;
  for (const LocalizeOutcome& o : outcomes) {
    std::string stem = std::filesystem::path(o.path).stem().string();
    const int count = seen[stem]++;
    stems.push_back(count == 0 ? stem : stem + "-" + std::to_string(count + 1));
  }
  return stems;
}

}  // namespace

std::string LocalizeHelp() {
  return "Usage: fovea localize [FLAGS] --out DIR IMAGE...\n\n"
         "Finds where the model's classes are in each image. Writes DIR/<image>.<class>-<label>.png (the heatmap over\n"
         "the image, detections outlined) per image and class, and DIR/detections.json with every input's detections\n"
         "(boxes in image pixels) or error. Prints one line per input; exit status 1 when any failed, 2 on a usage\n"
         "error.\n\n"
         "  --out DIR            output folder (created if missing)\n"
         "  --method M           cam, gradcam, dense or auto (default auto: CAM when the model allows it)\n"
         "  --classes A,B,...    class indices to map (default: top-1 for cam/gradcam, all but background for dense)\n"
         "  --stride N           dense window step in pixels (default 0 = the model's natural stride)\n"
         "  --threshold T        minimum detection score in [0, 1] (default 0.5)\n"
         "  --nms-iou T          overlap above which same-class boxes are merged (default 0.3)\n"
         "  --model NAME         model to use (default: the server's only model)\n"
         "  --version N          model version (default 0 = latest)\n"
         "  --timeout SECONDS    deadline per request (default 120)\n" +
         ConnectionHelp();
}

int RunLocalize(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const ParsedArgs parsed = ParseArgs(args, kLocalizeFlags);
  if (parsed.has("help")) {
    out << LocalizeHelp();
    return kExitSuccess;
  }
  LocalizeOptions options;
  ClientOptions client_options;
  std::string error = parsed.error.empty() ? ReadOptions(parsed, options, client_options) : parsed.error;
  if (error.empty() && parsed.positionals.empty()) error = "no IMAGE given";
  if (!error.empty()) {
    err << "fovea localize: " << error << "\n" << LocalizeHelp();
    return kExitUsage;
  }
  std::error_code created;
  std::filesystem::create_directories(options.out, created);
  if (created) {
    err << "fovea localize: cannot create " << options.out.string() << ": " << created.message() << "\n";
    return kExitFailure;
  }
  client_options.timeout = std::chrono::seconds(options.timeout_seconds);
  const std::unique_ptr<FoveaClient> client = FoveaClient::Connect(options.server, client_options);
  int exit_code = kExitSuccess;
  const std::optional<std::string> model = ResolveModel(*client, options.server, options.model, err, exit_code);
  if (!model) return exit_code;

  const InputList inputs = ExpandInputs(parsed.positionals);
  std::vector<LocalizeOutcome> outcomes(inputs.files.size());
  for (size_t i = 0; i < inputs.files.size(); ++i) outcomes[i].path = inputs.files[i].path;
  const std::vector<std::string> stems = UniqueStems(outcomes);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!inputs.files[i].error.empty()) {
      outcomes[i].error_code = static_cast<int>(grpc::StatusCode::NOT_FOUND);
      outcomes[i].error_message = inputs.files[i].error;
    } else {
      Localize(*client, options, *model, outcomes[i]);
      if (outcomes[i].error_code == 0) WriteOverlays(options.out, stems[i], outcomes[i]);
    }
    ReportOutcome(out, outcomes[i]);
  }
  if (!WriteJson(options.out / kDetectionsFile, outcomes)) {
    err << "fovea localize: cannot write " << (options.out / kDetectionsFile).string() << "\n";
    return kExitFailure;
  }
  const bool any_failed =
      std::any_of(outcomes.begin(), outcomes.end(), [](const LocalizeOutcome& o) { return o.error_code != 0; });
  return any_failed ? kExitFailure : kExitSuccess;
}

}  // namespace fovea::client
