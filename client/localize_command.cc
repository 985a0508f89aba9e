// `fovea localize`: one Localize call per image; writes a heatmap overlay PNG and the map itself (an 8-bit PNG, or
// float values in the JSON) per image and class, and every input's heatmaps and detections (or error) to one JSON
// file.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>

#include "client/commands.h"
#include "client/connection_flags.h"
#include "client/fovea_client.h"
#include "client/input_files.h"
#include "client/result_output.h"
#include "common/json_text.h"

namespace fovea::client {
namespace {

constexpr int kDefaultLocalizeTimeoutSeconds = 120;
constexpr char kDetectionsFile[] = "detections.json";

struct LocalizeOptions {
  ConnectionFlags connection;
  std::string server;  // the channel target the connection flags resolve to
  std::string model;
  int64_t version = 0;
  std::string out;
  v1::LocalizationMethod method = v1::LOCALIZATION_METHOD_UNSPECIFIED;
  std::vector<int64_t> classes;
  int32_t stride = 0;
  std::optional<float> threshold;
  std::optional<float> nms_iou;
  std::optional<int32_t> top_k;
  v1::HeatmapFormat map_format = v1::HEATMAP_FORMAT_PNG;  // 8-bit maps keep many-class answers small
  bool no_overlays = false;
  std::string layer;  // Grad-CAM's layer; empty = the server's default
};

// One input's answer, or why there is none.
struct LocalizeOutcome {
  std::string path;
  v1::LocalizeResponse response;
  std::vector<std::string> overlays;  // files written
  std::vector<std::string> maps;      // 8-bit map files written, one per heatmap (HEATMAP_FORMAT_PNG)
  int error_code = 0;
  std::string error_message;
};

std::optional<v1::LocalizationMethod> ParseMethod(const std::string& text) {
  if (text == "cam") return v1::LOCALIZATION_METHOD_CAM;
  if (text == "gradcam" || text == "grad-cam") return v1::LOCALIZATION_METHOD_GRAD_CAM;
  if (text == "dense") return v1::LOCALIZATION_METHOD_DENSE;
  if (text == "segmentation") return v1::LOCALIZATION_METHOD_SEGMENTATION;
  if (text == "auto") return v1::LOCALIZATION_METHOD_UNSPECIFIED;
  return std::nullopt;
}

// The flag table of `fovea localize`, bound to `o` (which must outlive it). Stride, threshold and IoU are passed
// through: the server owns their valid ranges and names them in its errors.
FlagSet LocalizeFlags(LocalizeOptions& o) {
  constexpr double kAnyNumber = std::numeric_limits<double>::max();
  FlagSet flags({.usage = "fovea localize [FLAGS] --out DIR IMAGE...",
                 .description =
                     "Finds where the model's classes are in each image. Writes DIR/<image>.<class>-<label>.png (the "
                     "heatmap over the image, detections outlined) and .map.png (the 8-bit map) per image and class, "
                     "and DIR/detections.json with every input's heatmaps and detections (boxes in image pixels) or "
                     "error. Prints one line per input; exit status 1 when any failed, 2 on a usage error.",
                 .positionals = true});
  flags.Add(TextFlag("out", &o.out, "DIR", "Output folder, created if missing (required)."));
  flags.Add(CustomFlag("method", "M",
                       "cam, gradcam, dense, segmentation or auto (auto: segmentation for a segmentation model; "
                       "else dense for an image at least twice the model input each way, else CAM when the model "
                       "allows it, else gradcam).",
                       [&o](const std::string& value) -> Status {
                         const std::optional<v1::LocalizationMethod> method = ParseMethod(value);
                         if (!method)
                           return InvalidArgument("'" + value + "' is not cam, gradcam, dense, segmentation or auto");
                         o.method = *method;
                         return OkStatus();
                       })
                .Default("auto"));
  flags.Add(CustomFlag("classes", "A,B,...", "Class indices to map.", [&o](const std::string& value) {
              return ReadClassIndices(value, o.classes);
            }).Default("the image's top-k"));
  flags.Add(IntegerFlag("top-k", &o.top_k, 1, INT32_MAX, "K", "Classes to map when --classes is not given.")
                .Default("1 for cam/gradcam; dense: all up to 32 classes, else 5"));
  flags.Add(CustomFlag("maps", "F",
                       "png: 8-bit maps, written as <image>.<class>-<label>.map.png and scaled by value_min..value_max "
                       "in the JSON; float: 4-byte values in the JSON.",
                       [&o](const std::string& value) -> Status {
                         if (value != "png" && value != "float")
                           return InvalidArgument("'" + value + "' is not png or float");
                         o.map_format = value == "png" ? v1::HEATMAP_FORMAT_PNG : v1::HEATMAP_FORMAT_FLOAT;
                         return OkStatus();
                       })
                .Default("png"));
  flags.Add(SwitchFlag("no-overlays", &o.no_overlays, "Ask for no overlay PNGs (a smaller, faster answer)."));
  flags.Add(IntegerFlag("stride", &o.stride, INT32_MIN, INT32_MAX, "N",
                        "Dense window step in pixels; 0 = the model's natural stride."));
  flags.Add(NumberFlag("threshold", &o.threshold, -kAnyNumber, kAnyNumber, "T", "Minimum detection score in [0, 1].")
                .Default("0.5"));
  flags.Add(NumberFlag("nms-iou", &o.nms_iou, -kAnyNumber, kAnyNumber, "T",
                       "Overlap above which same-class boxes are merged.")
                .Default("0.3"));
  flags.Add(TextFlag("layer", &o.layer, "NAME",
                     "Grad-CAM: the value or node of the model's graph to explain (selects gradcam under auto).")
                .Default("the last convolution with spatial extent"));
  flags.Add(TextFlag("model", &o.model, "NAME", "Model to use.").Default("the server's only model"));
  flags.Add(IntegerFlag("version", &o.version, 0, INT64_MAX, "N", "Model version; 0 = latest."));
  o.connection.timeout_seconds = kDefaultLocalizeTimeoutSeconds;
  AddConnectionFlags(flags, o.connection);
  return flags;
}

// Writes `bytes` to `file` and records it in `written`; false (with the outcome's error set) when it cannot.
bool WriteFile(const std::filesystem::path& file, const std::string& bytes, std::vector<std::string>& written,
               LocalizeOutcome& outcome) {
  std::ofstream stream(file, std::ios::binary);
  stream.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!stream) {
    outcome.error_code = static_cast<int>(grpc::StatusCode::UNKNOWN);
    outcome.error_message = "cannot write " + file.string();
    return false;
  }
  written.push_back(file.string());
  return true;
}

// Writes the overlays of `outcome` as <stem>.<class>-<label>.png and its 8-bit maps as <stem>.<class>-<label>.map.png;
// `stem` is unique among the inputs.
void WriteImages(const std::filesystem::path& out, const std::string& stem, LocalizeOutcome& outcome) {
  for (const v1::Heatmap& heatmap : outcome.response.heatmaps()) {
    const std::string name = stem + "." + std::to_string(heatmap.class_index()) + "-" + FileNameSlug(heatmap.label());
    if (!heatmap.overlay_png().empty() &&
        !WriteFile(out / (name + ".png"), heatmap.overlay_png(), outcome.overlays, outcome)) {
      return;
    }
    if (!heatmap.values_png().empty() &&
        !WriteFile(out / (name + ".map.png"), heatmap.values_png(), outcome.maps, outcome)) {
      return;
    }
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
  if (options.top_k) request.set_top_k(*options.top_k);
  request.set_map_format(options.map_format);
  request.set_render_overlays(!options.no_overlays);
  request.set_layer(options.layer);
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

// One heatmap's geometry and values: the map file and its scale (8-bit maps), or the values themselves.
void WriteHeatmapJson(std::ostream& json, const v1::Heatmap& h, const std::string& map_file) {
  json << "{\"class_index\": " << h.class_index() << ", \"label\": " << JsonString(h.label())
       << ", \"width\": " << h.width() << ", \"height\": " << h.height() << ", \"stride_x\": " << h.stride_x()
       << ", \"stride_y\": " << h.stride_y() << ", \"offset_x\": " << h.offset_x() << ", \"offset_y\": " << h.offset_y()
       << ", \"window_width\": " << h.window_width() << ", \"window_height\": " << h.window_height();
  if (!map_file.empty()) {
    json << ", \"map_png\": " << JsonString(map_file) << ", \"value_min\": " << h.value_min()
         << ", \"value_max\": " << h.value_max() << "}";
    return;
  }
  json << ", \"values\": [";
  for (int i = 0; i < h.values_size(); ++i) json << (i ? ", " : "") << h.values(i);
  json << "]}";
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
  json << "], \"heatmaps\": [";
  size_t map_files = 0;
  for (int i = 0; i < r.heatmaps_size(); ++i) {
    json << (i ? ", " : "");
    const bool has_file = !r.heatmaps(i).values_png().empty() && map_files < o.maps.size();
    WriteHeatmapJson(json, r.heatmaps(i), has_file ? o.maps[map_files++] : "");
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

}  // namespace

int RunLocalize(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  LocalizeOptions options;
  ClientOptions client_options;
  const FlagSet flags = LocalizeFlags(options);
  ParsedArgs parsed;
  const auto check = [&](const ParsedArgs& p) -> std::string {
    if (options.out.empty()) return "--out DIR is required";
    return p.positionals.empty() ? "no IMAGE given" : "";
  };
  if (const std::optional<int> exit_code = ParseServerCommandArgs(
          "localize", flags, args, options.connection, options.server, client_options, check, out, err, parsed)) {
    return *exit_code;
  }
  const std::filesystem::path out_dir = options.out;
  std::error_code created;
  std::filesystem::create_directories(out_dir, created);
  if (created) {
    err << "fovea localize: cannot create " << out_dir.string() << ": " << created.message() << "\n";
    return kExitFailure;
  }
  int exit_code = kExitSuccess;
  const std::optional<ModelConnection> connection =
      ConnectToModel(options.server, client_options, options.model, err, exit_code);
  if (!connection) return exit_code;
  FoveaClient& client = *connection->client;
  const std::string& model = connection->model;

  const InputList inputs = ExpandInputs(parsed.positionals);
  std::vector<LocalizeOutcome> outcomes(inputs.files.size());
  for (size_t i = 0; i < inputs.files.size(); ++i) outcomes[i].path = inputs.files[i].path;
  std::vector<std::string> paths;
  for (const LocalizeOutcome& o : outcomes) paths.push_back(o.path);
  const std::vector<std::string> stems = UniqueFileStems(paths);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (!inputs.files[i].error.empty()) {
      outcomes[i].error_code = static_cast<int>(grpc::StatusCode::NOT_FOUND);
      outcomes[i].error_message = inputs.files[i].error;
    } else {
      Localize(client, options, model, outcomes[i]);
      if (outcomes[i].error_code == 0) WriteImages(out_dir, stems[i], outcomes[i]);
    }
    ReportOutcome(out, outcomes[i]);
  }
  if (!WriteJson(out_dir / kDetectionsFile, outcomes)) {
    err << "fovea localize: cannot write " << (out_dir / kDetectionsFile).string() << "\n";
    return kExitFailure;
  }
  const bool any_failed =
      std::any_of(outcomes.begin(), outcomes.end(), [](const LocalizeOutcome& o) { return o.error_code != 0; });
  return any_failed ? kExitFailure : kExitSuccess;
}

Status ReadClassIndices(const std::string& text, std::vector<int64_t>& classes) {
  std::stringstream stream(text);
  std::string item;
  classes.clear();
  while (std::getline(stream, item, ',')) {
    const StatusOr<int64_t> index = ParseInteger(item, 0, INT64_MAX);
    if (!index.ok()) return InvalidArgument("'" + text + "' is not a comma-separated list of class indices");
    classes.push_back(*index);
  }
  return OkStatus();
}

}  // namespace fovea::client
