#include "slide/slide_viewer.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "slide/vips_support.h"

namespace fovea::slide {
namespace {

namespace fs = std::filesystem;

constexpr int kTileSize = 254;  // DeepZoom's usual: 254 + 2 × 1 overlap = 256
constexpr double kOverlayOpacity = 0.6;
constexpr double kMaxAlpha = 0.85;  // of a probability-1 cell, so the slide always shows through a little

// A rows x cols image of one colour (3 bands, 8-bit).
Status ConstantColour(int64_t rows, int64_t cols, const std::array<uint8_t, 3>& colour, VipsRef& out) {
  VipsRef black, coloured;
  double zero[3] = {0, 0, 0};
  double rgb[3] = {static_cast<double>(colour[0]), static_cast<double>(colour[1]), static_cast<double>(colour[2])};
  if (vips_black(&black.image, static_cast<int>(cols), static_cast<int>(rows), "bands", 3, nullptr) != 0 ||
      vips_linear(black.image, &coloured.image, zero, rgb, 3, nullptr) != 0 ||
      vips_cast_uchar(coloured.image, &out.image, nullptr) != 0) {
    return Internal("cannot make the overlay's colours: " + TakeVipsError());
  }
  return OkStatus();
}

// The overlay as a lazy vips pipeline: per cell the most probable class's colour, alpha its probability. It reads the
// 8-bit TIFFs (LoadMapBytes): a colour and an alpha need no more than 8 bits, and memory stays bounded.
Status OverlayImage(const ViewerPage& page, VipsRef& rgba) {
  VipsRef best, colour;
  best.image = LoadMapBytes(page.maps.at(0));
  if (best.image == nullptr) return DataLoss("cannot read '" + page.maps[0].tiff_path + "': " + TakeVipsError());
  FOVEA_RETURN_IF_ERROR(ConstantColour(page.rows, page.cols, ClassColour(page.maps[0].class_index), colour));
  for (size_t k = 1; k < page.maps.size(); ++k) {
    VipsRef map{LoadMapBytes(page.maps[k])}, this_colour, greater, new_best, new_colour;
    if (map.image == nullptr) return DataLoss("cannot read '" + page.maps[k].tiff_path + "': " + TakeVipsError());
    FOVEA_RETURN_IF_ERROR(ConstantColour(page.rows, page.cols, ClassColour(page.maps[k].class_index), this_colour));
    if (vips_more(map.image, best.image, &greater.image, nullptr) != 0 ||
        vips_ifthenelse(greater.image, map.image, best.image, &new_best.image, nullptr) != 0 ||
        vips_ifthenelse(greater.image, this_colour.image, colour.image, &new_colour.image, nullptr) != 0) {
      return Internal("cannot combine the class maps: " + TakeVipsError());
    }
    std::swap(best.image, new_best.image);
    std::swap(colour.image, new_colour.image);
  }
  VipsRef scaled, alpha, joined;
  if (vips_linear1(best.image, &scaled.image, kMaxAlpha, 0.0, nullptr) != 0 ||
      vips_cast_uchar(scaled.image, &alpha.image, nullptr) != 0 ||
      vips_bandjoin2(colour.image, alpha.image, &joined.image, nullptr) != 0 ||
      vips_copy(joined.image, &rgba.image, "interpretation", VIPS_INTERPRETATION_sRGB, nullptr) != 0) {
    return Internal("cannot make the overlay: " + TakeVipsError());
  }
  return OkStatus();
}

Status DeepZoom(VipsImage* image, const fs::path& base, const char* suffix) {
  if (vips_dzsave(image, base.c_str(), "suffix", suffix, "tile_size", kTileSize, "overlap", 1, nullptr) != 0) {
    return DataLoss("cannot write '" + base.string() + ".dzi': " + TakeVipsError());
  }
  return OkStatus();
}

// OpenSeadragon's inline form of a .dzi (a page opened from file:// may load images but not fetch XML).
nlohmann::json InlineDzi(const std::string& files, const char* format, int64_t width, int64_t height) {
  return {{"Image",
           {{"xmlns", "http://schemas.microsoft.com/deepzoom/2008"},
            {"Url", files + "/"},
            {"Format", format},
            {"Overlap", "1"},
            {"TileSize", std::to_string(kTileSize)},
            {"Size", {{"Width", std::to_string(width)}, {"Height", std::to_string(height)}}}}}};
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else if (c == '"') {
      out += "&quot;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PageHtml(const ViewerPage& page) {
  const DenseGrid& g = page.grid;
  const double width = static_cast<double>(page.slide_width);
  // Cell (r, c) covers the stride-sized square centred on its window's centre, in slide pixels; OpenSeadragon's world
  // unit is the slide's width.
  const double left = (static_cast<double>(g.window_width) - static_cast<double>(g.stride)) / 2.0 / width;
  const double top = (static_cast<double>(g.window_height) - static_cast<double>(g.stride)) / 2.0 / width;
  const double overlay_width = static_cast<double>(page.cols * g.stride) / width;
  const nlohmann::json slide = InlineDzi(page.name + "_files", "jpg", page.slide_width, page.slide_height);
  const nlohmann::json overlay = InlineDzi(page.name + ".overlay_files", "png", page.cols, page.rows);
  std::string legend;
  for (const ClassMap& map : page.maps) {
    const auto c = ClassColour(map.class_index);
    legend += "<span><i style=\"background:rgb(" + std::to_string(c[0]) + "," + std::to_string(c[1]) + "," +
              std::to_string(c[2]) + ")\"></i>" + HtmlEscape(map.label) + "</span>";
  }
  return R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>)" +
         HtmlEscape(page.title) + R"(</title>
<style>
html, body { margin: 0; height: 100%; font: 14px sans-serif; background: #111; color: #eee; }
body { display: flex; flex-direction: column; }
#bar { flex: none; display: flex; align-items: center; gap: 6px 16px; padding: 6px 12px; flex-wrap: wrap; }
#bar span { white-space: nowrap; } #bar i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; }
#viewer { flex: 1; position: relative; background: #000; }
</style></head><body>
<div id="bar"><b>)" +
         HtmlEscape(page.title) +
         R"(</b><label>map opacity <input id="opacity" type="range" min="0" max="1" step="0.05" value=")" +
         std::to_string(kOverlayOpacity) + R"("></label>)" + legend + R"(</div>
<div id="viewer"></div>
<script src="openseadragon/openseadragon.min.js"></script>
<script>
const viewer = OpenSeadragon({
  id: "viewer", prefixUrl: "openseadragon/images/", drawer: "canvas", showNavigator: true,
  imageSmoothingEnabled: false, tileSources: )" +
         slide.dump() + R"(});
viewer.addOnceHandler("open", () => viewer.addTiledImage({
  tileSource: )" +
         overlay.dump() + ", x: " + std::to_string(left) + ", y: " + std::to_string(top) +
         ", width: " + std::to_string(overlay_width) + ", opacity: " + std::to_string(kOverlayOpacity) + R"(,
  success: (event) => { window.foveaOverlay = event.item; }
}));
document.getElementById("opacity").addEventListener("input", (event) => {
  if (window.foveaOverlay) window.foveaOverlay.setOpacity(Number(event.target.value));
});
</script></body></html>
)";
}

Status CopyAssets(const std::string& assets, const fs::path& dir) {
  std::error_code error;
  const fs::path target = dir / "openseadragon";
  fs::create_directories(target / "images", error);
  fs::copy_file(fs::path(assets) / "openseadragon.min.js", target / "openseadragon.min.js",
                fs::copy_options::overwrite_existing, error);
  if (!error) {
    fs::copy(fs::path(assets) / "images", target / "images",
             fs::copy_options::overwrite_existing | fs::copy_options::recursive, error);
  }
  if (error) return DataLoss("cannot copy OpenSeadragon from '" + assets + "': " + error.message());
  return OkStatus();
}

}  // namespace

std::string FindViewerAssets() {
#ifdef FOVEA_VIEWER_ASSETS_DIR
  const char* installed = FOVEA_VIEWER_ASSETS_DIR;
#else
  const char* installed = nullptr;
#endif
  for (const char* candidate : {static_cast<const char*>(std::getenv("FOVEA_VIEWER_ASSETS")), installed}) {
    if (candidate != nullptr && fs::exists(fs::path(candidate) / "openseadragon.min.js")) return candidate;
  }
  return "";
}

Status WriteViewer(const ViewerPage& page, const SlideImage& slide) {
  const fs::path dir(page.dir);
  FOVEA_RETURN_IF_ERROR(CopyAssets(page.assets, dir));
  FOVEA_ASSIGN_OR_RETURN(VipsImage* const pass, slide.OpenSequential());
  const VipsRef slide_pass(pass);
  FOVEA_RETURN_IF_ERROR(DeepZoom(slide_pass.image, dir / page.name, ".jpg[Q=85]"));
  VipsRef overlay;
  FOVEA_RETURN_IF_ERROR(OverlayImage(page, overlay));
  FOVEA_RETURN_IF_ERROR(DeepZoom(overlay.image, dir / (page.name + ".overlay"), ".png"));
  std::ofstream html(dir / (page.name + ".html"), std::ios::trunc);
  html << PageHtml(page);
  html.close();
  if (!html) return DataLoss("cannot write '" + (dir / (page.name + ".html")).string() + "'");
  return OkStatus();
}

}  // namespace fovea::slide
