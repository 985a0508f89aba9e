#include "slide/slide_outputs.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "slide/vips_support.h"

namespace fovea::slide {
namespace {

Status LoadMap(const ClassMap& map, int64_t rows, int64_t cols, VipsRef& out) {
  out.image = LoadMapImage(map, rows, cols);
  if (out.image == nullptr) return DataLoss("cannot read map '" + map.raw_path + "': " + TakeVipsError());
  return OkStatus();
}

// 20 well-separated hues (Kelly's colours of maximum contrast, without black and white).
constexpr std::array<std::array<uint8_t, 3>, 20> kPalette = {{
    {230, 25, 75},   {60, 180, 75},   {255, 225, 25},  {0, 130, 200},   {245, 130, 48},
    {145, 30, 180},  {70, 240, 240},  {240, 50, 230},  {210, 245, 60},  {250, 190, 212},
    {0, 128, 128},   {220, 190, 255}, {170, 110, 40},  {255, 250, 200}, {128, 0, 0},
    {170, 255, 195}, {128, 128, 0},   {255, 215, 180}, {0, 0, 128},     {128, 128, 128},
}};

// The map shrunk to about cells_wide x cells_high (nearest-neighbour in memory: it is at most a preview's size).
StatusOr<std::vector<float>> ShrunkMap(const ClassMap& map, int64_t rows, int64_t cols, int64_t& small_cols,
                                       int64_t& small_rows, double scale) {
  VipsRef raw, small;
  FOVEA_RETURN_IF_ERROR(LoadMap(map, rows, cols, raw));
  if (scale < 1.0) {
    if (vips_resize(raw.image, &small.image, scale, "kernel", VIPS_KERNEL_LINEAR, nullptr) != 0) {
      return DataLoss("cannot shrink map '" + map.raw_path + "': " + TakeVipsError());
    }
  } else {
    small.image = raw.image;
    g_object_ref(small.image);
  }
  size_t size = 0;
  void* memory = vips_image_write_to_memory(small.image, &size);
  if (memory == nullptr) return DataLoss("cannot read map '" + map.raw_path + "': " + TakeVipsError());
  small_cols = vips_image_get_width(small.image);
  small_rows = vips_image_get_height(small.image);
  std::vector<float> values(static_cast<const float*>(memory), static_cast<const float*>(memory) + size / 4);
  g_free(memory);
  return values;
}

}  // namespace

VipsImage* LoadMapImage(const ClassMap& map, int64_t rows, int64_t cols) {
  VipsImage* image = nullptr;
  if (vips_rawload(map.raw_path.c_str(), &image, static_cast<int>(cols), static_cast<int>(rows), 1, "format",
                   VIPS_FORMAT_FLOAT, "interpretation", VIPS_INTERPRETATION_B_W, nullptr) != 0) {
    return nullptr;
  }
  return image;
}

std::array<uint8_t, 3> ClassColour(int64_t class_index) {
  return kPalette[static_cast<size_t>(class_index) % kPalette.size()];
}

VipsImage* LoadMapBytes(const ClassMap& map) {
  VipsImage* image = nullptr;
  if (vips_tiffload(map.tiff_path.c_str(), &image, "access", VIPS_ACCESS_SEQUENTIAL, "fail_on", VIPS_FAIL_ON_ERROR,
                    nullptr) != 0) {
    return nullptr;
  }
  return image;
}

Status WriteHeatmapTiff(const ClassMap& map, int64_t rows, int64_t cols) {
  const std::string& path = map.tiff_path;
  VipsRef raw, scaled, bytes;
  FOVEA_RETURN_IF_ERROR(LoadMap(map, rows, cols, raw));
  if (vips_linear1(raw.image, &scaled.image, 255.0, 0.0, nullptr) != 0 ||
      vips_cast_uchar(scaled.image, &bytes.image, nullptr) != 0 ||
      vips_tiffsave(bytes.image, path.c_str(), "tile", TRUE, "pyramid", TRUE, "tile_width", 256, "tile_height", 256,
                    "compression", VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE, nullptr) != 0) {
    return DataLoss("cannot write '" + path + "': " + TakeVipsError());
  }
  return OkStatus();
}

Status WritePreviewPng(const Pixels& thumbnail, const TissueMask& mask, int64_t width, int64_t height,
                       const DenseGrid& grid, const std::vector<ClassMap>& maps, int64_t rows, int64_t cols,
                       const std::string& path) {
  const int64_t tw = thumbnail.width, th = thumbnail.height;
  // Slide pixels per thumbnail pixel, and the map shrunk to about the thumbnail's resolution.
  const double sx = static_cast<double>(width) / static_cast<double>(tw);
  const double sy = static_cast<double>(height) / static_cast<double>(th);
  const double scale = std::min(1.0, static_cast<double>(grid.stride) / std::min(sx, sy));
  std::vector<float> best(static_cast<size_t>(tw * th), 0.0f);
  std::vector<int64_t> best_class(best.size(), -1);
  for (const ClassMap& map : maps) {
    int64_t small_cols = 0, small_rows = 0;
    FOVEA_ASSIGN_OR_RETURN(const std::vector<float> small, ShrunkMap(map, rows, cols, small_cols, small_rows, scale));
    for (int64_t y = 0; y < th; ++y) {
      // The cell whose window is centred nearest this pixel.
      const double cell_y = ((static_cast<double>(y) + 0.5) * sy - grid.window_height / 2.0) / grid.stride;
      const int64_t r = std::clamp<int64_t>(std::lround(cell_y * small_rows / rows), 0, small_rows - 1);
      for (int64_t x = 0; x < tw; ++x) {
        const double cell_x = ((static_cast<double>(x) + 0.5) * sx - grid.window_width / 2.0) / grid.stride;
        const int64_t c = std::clamp<int64_t>(std::lround(cell_x * small_cols / cols), 0, small_cols - 1);
        const float value = small[static_cast<size_t>(r * small_cols + c)];
        const size_t i = static_cast<size_t>(y * tw + x);
        if (value > best[i]) {
          best[i] = value;
          best_class[i] = map.class_index;
        }
      }
    }
  }
  std::vector<uint8_t> rgb(static_cast<size_t>(tw * th * 3));
  constexpr float kMaxOpacity = 0.7f;
  for (size_t i = 0; i < best.size(); ++i) {
    const bool shown = best_class[i] >= 0 && mask.IsTissue(static_cast<int64_t>(i) % tw, static_cast<int64_t>(i) / tw);
    const float alpha = shown ? kMaxOpacity * std::clamp(best[i], 0.0f, 1.0f) : 0.0f;
    const auto colour = best_class[i] < 0 ? std::array<uint8_t, 3>{0, 0, 0} : ClassColour(best_class[i]);
    for (size_t b = 0; b < 3; ++b) {
      const float under =
          thumbnail.data[i * static_cast<size_t>(thumbnail.bands) + std::min<size_t>(b, thumbnail.bands - 1)];
      rgb[i * 3 + b] = static_cast<uint8_t>(std::lround((1.0f - alpha) * under + alpha * colour[b]));
    }
  }
  VipsRef image;
  image.image = vips_image_new_from_memory(rgb.data(), rgb.size(), static_cast<int>(tw), static_cast<int>(th), 3,
                                           VIPS_FORMAT_UCHAR);
  if (image.image == nullptr || vips_pngsave(image.image, path.c_str(), nullptr) != 0) {
    return DataLoss("cannot write '" + path + "': " + TakeVipsError());
  }
  return OkStatus();
}

Status WriteGeoJson(const std::vector<SlideDetection>& detections, const std::string& slide_path,
                    const std::string& path) {
  // Streamed feature by feature: a large slide has hundreds of thousands of detections, and a JSON document of them
  // all would take far more memory than the detections themselves.
  std::ofstream out(path, std::ios::trunc);
  out << "{\"type\": \"FeatureCollection\", \"fovea\": " << nlohmann::json{{"slide", slide_path}}.dump()
      << ",\n \"features\": [";
  for (size_t i = 0; i < detections.size(); ++i) {
    const SlideDetection& d = detections[i];
    const auto colour = ClassColour(d.class_index);
    const nlohmann::json ring = {
        {d.x_min, d.y_min}, {d.x_max, d.y_min}, {d.x_max, d.y_max}, {d.x_min, d.y_max}, {d.x_min, d.y_min}};
    const nlohmann::json feature = {
        {"type", "Feature"},
        {"geometry", {{"type", "Polygon"}, {"coordinates", {ring}}}},
        {"properties",
         {{"objectType", "detection"},
          {"name", d.label},
          {"classification", {{"name", d.label}, {"color", {colour[0], colour[1], colour[2]}}}},
          {"class_index", d.class_index},
          {"score", d.score}}}};
    out << (i == 0 ? "\n  " : ",\n  ") << feature.dump();
  }
  out << "\n ]}\n";
  out.close();
  if (!out) return DataLoss("cannot write '" + path + "'");
  return OkStatus();
}

}  // namespace fovea::slide
