#include "slide/slide_command.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "client/commands.h"
#include "client/connection_flags.h"
#include "client/fovea_client.h"
#include "client/progress_bar.h"
#include "client/result_output.h"
#include "slide/detection_merge.h"
#include "slide/slide_image.h"
#include "slide/slide_outputs.h"
#include "slide/slide_store.h"
#include "slide/slide_viewer.h"
#include "slide/tile_plan.h"
#include "slide/tissue_mask.h"

namespace fovea::slide {
namespace {

namespace fs = std::filesystem;
using client::kExitFailure;
using client::kExitSuccess;

constexpr int kDefaultSlideTimeoutSeconds = 300;
constexpr int64_t kMaskThumbnailSide = 1024;
constexpr int64_t kEveryClassUpTo = 32;  // as the server's DENSE default: more classes must be chosen

struct SlideOptions {
  client::ConnectionFlags connection;
  std::string server;
  std::string model;
  int64_t version = 0;
  std::string out;
  Resolution resolution;
  int64_t tile_pixels = 0;  // 0: as large as the server's dense limit allows
  std::vector<int64_t> classes;
  std::optional<float> threshold;
  std::optional<float> nms_iou;
  int concurrency = 4;
  bool tissue_mask = true;
  bool restart = false;
  bool viewer = true;
};

FlagSet SlideFlags(SlideOptions& o) {
  constexpr double kAnyNumber = std::numeric_limits<double>::max();
  FlagSet flags(
      {.usage = "fovea slide [FLAGS] --out DIR SLIDE...",
       .description =
           "Maps whole-slide and huge images (OpenSlide formats such as SVS, NDPI and MIRAX; pyramidal or plain TIFF, "
           "PNG, JPEG) with the model's dense sliding-window class probabilities, reading them region by region. "
           "Tiles overlap by the context each map cell depends on, so the stitched map equals one pass over the whole "
           "image. Tiles of empty glass (Otsu's threshold on a low-resolution view) are skipped. Writes, per SLIDE "
           "(named by its file name): <name>.<class>-<label>.tif (the class's map, 8-bit pyramidal TIFF, one pixel "
           "per cell), <name>.preview.png, <name>.geojson (detections, QuPath-ready), <name>.json (the run's "
           "summary), and <name>.maps/ (float32 maps, row-major). An interrupted run resumes when started again with "
           "the same flags: finished tiles are not recomputed.",
       .positionals = true});
  flags.Add(TextFlag("out", &o.out, "DIR", "Output folder, created if missing (required)."));
  flags.Add(TextFlag("model", &o.model, "NAME", "Model to use.").Default("the server's only model"));
  flags.Add(IntegerFlag("version", &o.version, 0, INT64_MAX, "N", "Model version; 0 = latest."));
  flags.Add(IntegerFlag("level", &o.resolution.level, 0, 64, "N", "Pyramid level to map (0 = full resolution)."));
  flags.Add(NumberFlag("downsample", &o.resolution.downsample, 1, 1e6, "D",
                       "Map at D level-0 pixels per pixel instead of a --level: read from the largest pyramid level at "
                       "least as fine, resampled (Lanczos) when no level is exactly D.")
                .Default("off (--level)"));
  flags.Add(NumberFlag("mpp", &o.resolution.microns_per_pixel, 1e-6, 1e6, "MICRONS",
                       "Map at this many microns per pixel (the resolution the model was trained at), from the "
                       "slide's metadata (OpenSlide's mpp, or a TIFF's resolution), as --downsample does.")
                .Default("off (--level)"));
  flags.Add(IntegerFlag("tile", &o.tile_pixels, 1, int64_t{1} << 20, "PIXELS",
                        "Tile side: each tile owns the map cells whose windows span this many pixels, and is read with "
                        "the context they need.")
                .Default("the largest the server's --max-dense-pixels allows, up to 4096"));
  flags.Add(CustomFlag("classes", "A,B,...", "Class indices to map.", [&o](const std::string& value) {
              return client::ReadClassIndices(value, o.classes);
            }).Default("every class, for a model of at most 32"));
  flags.Add(NumberFlag("threshold", &o.threshold, -kAnyNumber, kAnyNumber, "T", "Minimum detection score in [0, 1].")
                .Default("the server's, 0.5"));
  flags.Add(NumberFlag("nms-iou", &o.nms_iou, -kAnyNumber, kAnyNumber, "T",
                       "Overlap above which same-class boxes are merged (within and across tiles).")
                .Default("0.3"));
  flags.Add(IntegerFlag("concurrency", &o.concurrency, 1, 256, "N", "Tiles in flight at once.").Default("4"));
  flags.Add(SwitchFlag("no-tissue-mask", &o.tissue_mask, "Map every tile, glass included.", false));
  flags.Add(SwitchFlag("restart", &o.restart, "Discard an earlier run in DIR with other settings and start over."));
  flags.Add(
      SwitchFlag("no-viewer", &o.viewer,
                 "Write no viewer page (<name>.html: the slide and the map as DeepZoom pyramids in OpenSeadragon; "
                 "the slide's pyramid takes about as long to write as a full-resolution copy).",
                 false));
  o.connection.timeout_seconds = kDefaultSlideTimeoutSeconds;
  AddConnectionFlags(flags, o.connection);
  return flags;
}

// Everything the tiles of one slide share.
struct SlideRun {
  const client::FoveaClient* client = nullptr;
  const SlideOptions* options = nullptr;
  std::string model;
  int64_t version = 0;
  const SlideImage* slide = nullptr;
  DenseGrid grid;
  std::vector<int64_t> classes;
  std::map<int64_t, int64_t> slot_of_class;
  SlideStore* store = nullptr;
  const TissueMask* mask = nullptr;  // null: map every tile
};

// The pixels the windows of the cells a tile owns cover: where the tissue mask is consulted.
PixelRect OwnedWindows(const Tile& tile, const DenseGrid& grid) {
  return {tile.cells.x * grid.stride, tile.cells.y * grid.stride,
          (tile.cells.width - 1) * grid.stride + grid.window_width,
          (tile.cells.height - 1) * grid.stride + grid.window_height};
}

v1::LocalizeRequest TileRequest(const SlideRun& run, Pixels pixels) {
  v1::LocalizeRequest request;
  request.set_model_name(run.model);
  request.set_model_version(run.version);
  v1::RawTensor* tensor = request.mutable_image()->mutable_tensor();
  tensor->set_dtype(v1::DATA_TYPE_UINT8);
  for (int64_t d : {pixels.height, pixels.width, pixels.bands}) tensor->add_shape(d);
  tensor->set_data(std::string(pixels.data.begin(), pixels.data.end()));
  request.set_method(v1::LOCALIZATION_METHOD_DENSE);
  for (int64_t c : run.classes) request.add_class_indices(c);
  if (run.options->threshold) request.set_score_threshold(*run.options->threshold);
  if (run.options->nms_iou) request.set_nms_iou(*run.options->nms_iou);
  request.set_map_format(v1::HEATMAP_FORMAT_FLOAT);
  request.set_render_overlays(false);
  return request;
}

// The tile's detections whose peak cell it owns (a DENSE box is the window at its peak cell), in slide pixels.
std::vector<SlideDetection> OwnedDetections(const SlideRun& run, const Tile& tile, const v1::LocalizeResponse& answer) {
  std::vector<SlideDetection> owned;
  const double downsample = run.slide->downsample();
  for (const v1::Detection& d : answer.detections()) {
    const int64_t col = std::lround(d.box().x_min() / static_cast<double>(run.grid.stride));
    const int64_t row = std::lround(d.box().y_min() / static_cast<double>(run.grid.stride));
    if (col < tile.first_col || col >= tile.first_col + tile.cells.width || row < tile.first_row ||
        row >= tile.first_row + tile.cells.height) {
      continue;
    }
    owned.push_back({d.class_index(), d.label(), d.score(),
                     (d.box().x_min() + static_cast<double>(tile.pixels.x)) * downsample,
                     (d.box().y_min() + static_cast<double>(tile.pixels.y)) * downsample,
                     (d.box().x_max() + static_cast<double>(tile.pixels.x)) * downsample,
                     (d.box().y_max() + static_cast<double>(tile.pixels.y)) * downsample});
  }
  return owned;
}

Status StoreMaps(const SlideRun& run, const Tile& tile, const v1::LocalizeResponse& answer) {
  if (answer.heatmaps_size() != static_cast<int>(run.classes.size())) {
    return Internal("tile " + std::to_string(tile.index) + ": the server answered " +
                    std::to_string(answer.heatmaps_size()) + " maps for " + std::to_string(run.classes.size()) +
                    " classes");
  }
  for (const v1::Heatmap& heatmap : answer.heatmaps()) {
    const auto slot = run.slot_of_class.find(heatmap.class_index());
    const bool fits = heatmap.width() >= tile.first_col + tile.cells.width &&
                      heatmap.height() >= tile.first_row + tile.cells.height &&
                      heatmap.values_size() == heatmap.width() * heatmap.height();
    if (slot == run.slot_of_class.end() || !fits) {
      return Internal("tile " + std::to_string(tile.index) + ": the server's map of class " +
                      std::to_string(heatmap.class_index()) + " (" + std::to_string(heatmap.width()) + "x" +
                      std::to_string(heatmap.height()) +
                      " cells) is not the one asked for; is the model's dense "
                      "geometry what GetModel said?");
    }
    FOVEA_RETURN_IF_ERROR(run.store->WriteCells(tile, slot->second, heatmap.values().data(), heatmap.width()));
  }
  return OkStatus();
}

StatusOr<TileRecord> MapTile(const SlideRun& run, const Tile& tile) {
  TileRecord record{tile.index, false, {}};
  if (run.mask != nullptr && !run.mask->AnyTissue(OwnedWindows(tile, run.grid))) {
    record.skipped = true;
    return record;
  }
  FOVEA_ASSIGN_OR_RETURN(Pixels pixels,
                         run.slide->ReadRegion(tile.pixels.x, tile.pixels.y, tile.pixels.width, tile.pixels.height));
  v1::LocalizeResponse answer;
  const grpc::Status status = run.client->Localize(TileRequest(run, std::move(pixels)), &answer);
  if (!status.ok()) {
    return Status(static_cast<StatusCode>(status.error_code()),
                  "tile " + std::to_string(tile.index) + " (" + std::to_string(tile.pixels.width) + "x" +
                      std::to_string(tile.pixels.height) + " at " + std::to_string(tile.pixels.x) + ", " +
                      std::to_string(tile.pixels.y) + "): " + status.error_message());
  }
  FOVEA_RETURN_IF_ERROR(StoreMaps(run, tile, answer));
  record.detections = OwnedDetections(run, tile, answer);
  return record;
}

struct TileTally {
  std::atomic<int64_t> mapped{0}, skipped{0};
};

// Maps every tile the store has not finished, `concurrency` at a time; stops at the first failure (the tiles finished
// so far stay in the store) and returns it.
Status MapTiles(const SlideRun& run, const TilePlan& plan, TileTally& tally) {
  std::vector<const Tile*> pending;
  for (const Tile& tile : plan.tiles) {
    if (run.store->finished().count(tile.index) == 0) pending.push_back(&tile);
  }
  client::ProgressBar progress(pending.size(), client::StderrIsTerminal(), "tiles");
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  Status first_error;
  std::mutex error_mutex;
  const auto work = [&] {
    for (size_t i = next++; i < pending.size() && !failed; i = next++) {
      const Tile& tile = *pending[i];
      StatusOr<TileRecord> record = MapTile(run, tile);
      Status status = record.ok() ? run.store->Finish(*record) : record.status();
      if (!status.ok()) {
        std::lock_guard lock(error_mutex);
        if (!failed.exchange(true)) first_error = status;
        return;
      }
      (record->skipped ? tally.skipped : tally.mapped)++;
      const double megapixels =
          static_cast<double>(tile.cells.width * tile.cells.height * run.grid.stride * run.grid.stride) / 1e6;
      progress.Advance(1, megapixels);
    }
  };
  std::vector<std::thread> workers;
  const size_t threads = std::min(pending.size(), static_cast<size_t>(run.options->concurrency));
  for (size_t t = 0; t < threads; ++t) workers.emplace_back(work);
  for (auto& worker : workers) worker.join();
  progress.Finish();
  return first_error;
}

// What identifies a run, so a restarted command resumes only the same work.
std::string RunSettings(const SlideRun& run, const std::string& path, const SlideOptions& o, int64_t tile_cells) {
  std::error_code error;
  const auto size = fs::file_size(path, error);
  const auto modified = fs::last_write_time(path, error).time_since_epoch().count();
  nlohmann::json json = {{"slide", fs::absolute(path).string()},
                         {"slide_bytes", error ? 0 : size},
                         {"slide_modified", modified},
                         {"level", o.resolution.level},
                         {"downsample", o.resolution.downsample},
                         {"mpp", o.resolution.microns_per_pixel},
                         {"model", run.model},
                         {"version", run.version},
                         {"grid",
                          {run.grid.window_width, run.grid.window_height, run.grid.stride, run.grid.context_left,
                           run.grid.context_top, run.grid.context_right, run.grid.context_bottom}},
                         {"classes", run.classes},
                         {"tile_cells", tile_cells},
                         {"threshold", o.threshold ? nlohmann::json(*o.threshold) : nlohmann::json()},
                         {"nms_iou", o.nms_iou ? nlohmann::json(*o.nms_iou) : nlohmann::json()},
                         {"tissue_mask", o.tissue_mask}};
  return json.dump();
}

struct ModelFacts {
  std::string name;
  int64_t version = 0;
  DenseGrid grid;
  std::vector<std::string> labels;
  int64_t num_classes = 0;
};

StatusOr<ModelFacts> AskModel(const client::FoveaClient& client, const std::string& model, int64_t version) {
  v1::GetModelResponse response;
  const grpc::Status status = client.GetModel(model, version, &response);
  if (!status.ok()) return Status(static_cast<StatusCode>(status.error_code()), status.error_message());
  if (!response.has_dense()) {
    return FailedPrecondition(
        "model '" + model +
        "' has no dense maps (only a classifier whose head becomes "
        "convolutions exactly has them; docs/localization.md, \"Dense\"); fovea slide needs them");
  }
  const v1::DenseGeometry& d = response.dense();
  ModelFacts facts{response.name(),
                   response.version(),
                   DenseGrid{d.window_width(), d.window_height(), d.natural_stride(), d.context_left(), d.context_top(),
                             d.context_right(), d.context_bottom(), d.max_image_pixels()},
                   {response.labels().begin(), response.labels().end()},
                   response.num_classes()};
  return facts;
}

StatusOr<std::vector<int64_t>> ChooseClasses(const SlideOptions& o, const ModelFacts& model) {
  if (!o.classes.empty()) {
    for (int64_t c : o.classes) {
      if (c >= model.num_classes) {
        return InvalidArgument("--classes names class " + std::to_string(c) + ", but model '" + model.name +
                               "' has classes 0 to " + std::to_string(model.num_classes - 1));
      }
    }
    return o.classes;
  }
  if (model.num_classes > kEveryClassUpTo) {
    return InvalidArgument("model '" + model.name + "' has " + std::to_string(model.num_classes) +
                           " classes; name the ones to map with --classes (every class is mapped only up to " +
                           std::to_string(kEveryClassUpTo) + ")");
  }
  std::vector<int64_t> all;
  for (int64_t c = 0; c < model.num_classes; ++c) all.push_back(c);
  return all;
}

std::string LabelOf(const ModelFacts& model, int64_t c) {
  return c < static_cast<int64_t>(model.labels.size()) ? model.labels[static_cast<size_t>(c)] : std::to_string(c);
}

// The run's class maps: the float maps the store keeps, and the TIFF each becomes in the output folder.
std::vector<ClassMap> RunMaps(const SlideRun& run, const ModelFacts& model, const std::string& name) {
  std::vector<ClassMap> maps;
  for (size_t slot = 0; slot < run.classes.size(); ++slot) {
    const int64_t c = run.classes[slot];
    const std::string label = LabelOf(model, c);
    const fs::path tiff =
        fs::path(run.options->out) / (name + "." + std::to_string(c) + "-" + client::FileNameSlug(label) + ".tif");
    maps.push_back({c, label, run.store->MapPath(static_cast<int64_t>(slot)), tiff.string()});
  }
  return maps;
}

// Writes the slide's result files and summary from the finished store; returns the summary.
StatusOr<nlohmann::json> WriteOutputs(const SlideRun& run, const std::vector<ClassMap>& maps, const std::string& path,
                                      const std::string& name, const TilePlan& plan, const Pixels& thumbnail,
                                      const TissueMask& mask) {
  const fs::path dir(run.options->out);
  nlohmann::json files = nlohmann::json::array();
  for (const ClassMap& map : maps) {
    FOVEA_RETURN_IF_ERROR(WriteHeatmapTiff(map, plan.map_rows, plan.map_cols));
    files.push_back(fs::path(map.tiff_path).filename().string());
  }
  const fs::path preview = dir / (name + ".preview.png");
  FOVEA_RETURN_IF_ERROR(WritePreviewPng(thumbnail, mask, run.slide->width(), run.slide->height(), run.grid, maps,
                                        plan.map_rows, plan.map_cols, preview.string()));
  std::vector<SlideDetection> detections;
  for (const auto& [index, record] : run.store->finished()) {
    detections.insert(detections.end(), record.detections.begin(), record.detections.end());
  }
  detections = MergeDetections(std::move(detections), run.options->nms_iou.value_or(kDefaultNmsIou));
  const fs::path geojson = dir / (name + ".geojson");
  FOVEA_RETURN_IF_ERROR(WriteGeoJson(detections, path, geojson.string()));
  files.push_back(preview.filename().string());
  files.push_back(geojson.filename().string());
  return nlohmann::json{{"slide", path},
                        {"width", run.slide->width()},
                        {"height", run.slide->height()},
                        {"level", run.slide->level()},
                        {"microns_per_pixel", run.slide->microns_per_pixel()},
                        {"downsample", run.slide->downsample()},
                        {"model", run.model},
                        {"version", run.version},
                        {"map",
                         {{"cols", plan.map_cols},
                          {"rows", plan.map_rows},
                          {"stride", run.grid.stride},
                          {"window_width", run.grid.window_width},
                          {"window_height", run.grid.window_height},
                          {"classes", run.classes},
                          {"maps", name + ".maps"}}},
                        {"detections", detections.size()},
                        {"files", files}};
}

// Maps one slide; prints its summary line to `out`.
Status MapSlide(const client::FoveaClient& client, const SlideOptions& o, const ModelFacts& model,
                const std::vector<int64_t>& classes, const std::string& path, const std::string& name,
                std::ostream& out) {
  const auto start = std::chrono::steady_clock::now();
  FOVEA_ASSIGN_OR_RETURN(const auto slide, SlideImage::Open(path, o.resolution));
  FOVEA_ASSIGN_OR_RETURN(const int64_t tile_cells, ChooseTileCells(model.grid, o.tile_pixels));
  FOVEA_ASSIGN_OR_RETURN(const TilePlan plan, PlanTiles(slide->width(), slide->height(), model.grid, tile_cells));
  FOVEA_ASSIGN_OR_RETURN(const Pixels thumbnail, slide->Thumbnail(kMaskThumbnailSide));
  const TissueMask mask(thumbnail, slide->width(), slide->height());

  SlideRun run{&client,    &o,      model.name, model.version, slide.get(),
               model.grid, classes, {},         nullptr,       o.tissue_mask ? &mask : nullptr};
  for (size_t slot = 0; slot < classes.size(); ++slot) run.slot_of_class[classes[slot]] = static_cast<int64_t>(slot);
  FOVEA_ASSIGN_OR_RETURN(
      auto store, SlideStore::Open(o.out, name, RunSettings(run, path, o, tile_cells),
                                   static_cast<int64_t>(classes.size()), plan.map_rows, plan.map_cols, o.restart));
  run.store = store.get();
  const int64_t resumed = static_cast<int64_t>(store->finished().size());
  TileTally tally;
  const Status mapped = MapTiles(run, plan, tally);
  if (!mapped.ok()) {
    return Status(mapped.code(), mapped.message() + "; " + std::to_string(resumed + tally.mapped + tally.skipped) +
                                     " of " + std::to_string(plan.tiles.size()) + " tiles are kept in " + o.out +
                                     ": run the same command again to resume");
  }
  const double mapping_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::vector<ClassMap> maps = RunMaps(run, model, name);
  FOVEA_ASSIGN_OR_RETURN(nlohmann::json summary, WriteOutputs(run, maps, path, name, plan, thumbnail, mask));
  summary["viewer"] = o.viewer ? "" : "not asked for (--no-viewer)";
  if (o.viewer) {
    const std::string assets = FindViewerAssets();
    if (assets.empty()) {
      summary["viewer"] = "skipped: OpenSeadragon not found (npm ci in slide/viewer, or set FOVEA_VIEWER_ASSETS)";
    } else {
      const ViewerPage page{o.out,
                            name,
                            fs::path(path).filename().string() + " — " + model.name,
                            slide->width(),
                            slide->height(),
                            model.grid,
                            plan.map_rows,
                            plan.map_cols,
                            maps,
                            assets};
      FOVEA_RETURN_IF_ERROR(WriteViewer(page, *slide));
      summary["viewer"] = name + ".html";
    }
  }
  int64_t skipped = 0;
  for (const auto& [index, record] : store->finished()) skipped += record.skipped ? 1 : 0;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double megapixels = static_cast<double>(slide->width() * slide->height()) / 1e6;
  summary["tiles"] = {{"total", plan.tiles.size()},        {"across", plan.tiles_across},   {"down", plan.tiles_down},
                      {"mapped_now", tally.mapped.load()}, {"skipped_background", skipped}, {"resumed", resumed},
                      {"tile_cells", tile_cells}};
  summary["tissue"] = {{"mask", o.tissue_mask}, {"threshold", mask.threshold()}, {"fraction", mask.tissue_fraction()}};
  summary["seconds"] = seconds;
  summary["mapping_seconds"] = mapping_seconds;  // tiles only: reading, the server's maps, writing cells
  summary["megapixels_per_second"] = megapixels / mapping_seconds;
  std::ofstream(fs::path(o.out) / (name + ".json")) << summary.dump(1) << "\n";
  out << path << ": " << slide->width() << "x" << slide->height() << " (level " << slide->level() << ", downsample "
      << slide->downsample() << "), " << plan.map_cols << "x" << plan.map_rows << " cells, " << plan.tiles.size()
      << " tiles (" << skipped << " background, skipped; " << resumed << " resumed), "
      << summary["detections"].get<size_t>() << " detections, " << mapping_seconds << " s mapping ("
      << megapixels / mapping_seconds << " MP/s), " << seconds << " s in all -> "
      << (fs::path(o.out) / (name + ".*")).string() << "\n";
  return OkStatus();
}

}  // namespace

int RunSlide(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  SlideOptions options;
  client::ClientOptions client_options;
  const FlagSet flags = SlideFlags(options);
  ParsedArgs parsed;
  const auto check = [&](const ParsedArgs& p) -> std::string {
    if (options.out.empty()) return "--out DIR is required";
    const Resolution& r = options.resolution;
    if ((r.level != 0) + (r.downsample != 0) + (r.microns_per_pixel != 0) > 1) {
      return "--level, --downsample and --mpp each choose the resolution: give one";
    }
    return p.positionals.empty() ? "no SLIDE given" : "";
  };
  if (const std::optional<int> exit_code = client::ParseServerCommandArgs(
          "slide", flags, args, options.connection, options.server, client_options, check, out, err, parsed)) {
    return *exit_code;
  }
  int exit_code = kExitSuccess;
  const std::optional<client::ModelConnection> connection =
      client::ConnectToModel(options.server, client_options, options.model, err, exit_code);
  if (!connection) return exit_code;
  const StatusOr<ModelFacts> model = AskModel(*connection->client, connection->model, options.version);
  if (!model.ok()) {
    err << "fovea slide: " << model.status().ToString() << "\n";
    return kExitFailure;
  }
  const StatusOr<std::vector<int64_t>> classes = ChooseClasses(options, *model);
  if (!classes.ok()) {
    err << "fovea slide: " << classes.status().message() << "\n";
    return client::kExitUsage;
  }
  const std::vector<std::string> names = client::UniqueFileStems(parsed.positionals);
  for (size_t i = 0; i < parsed.positionals.size(); ++i) {
    const Status status =
        MapSlide(*connection->client, options, *model, *classes, parsed.positionals[i], names[i], out);
    if (!status.ok()) {
      err << "fovea slide: " << parsed.positionals[i] << ": " << status.ToString() << "\n";
      exit_code = kExitFailure;
    }
  }
  return exit_code;
}

}  // namespace fovea::slide
