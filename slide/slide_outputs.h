#pragma once
// The files a finished `fovea slide` run leaves for people and their tools, from the run's float maps and journal
// (slide_store.h): per-class heatmaps as pyramidal tiled TIFFs, a PNG preview of the slide with the map over it, and
// the detections as a GeoJSON FeatureCollection that QuPath imports.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "slide/slide_image.h"
#include "slide/slide_store.h"
#include "slide/tile_plan.h"
#include "slide/tissue_mask.h"

typedef struct _VipsImage VipsImage;

namespace fovea::slide {

// One class's map as the run stored it.
struct ClassMap {
  int64_t class_index = 0;
  std::string label;
  std::string raw_path;   // rows x cols float32, row-major
  std::string tiff_path;  // the 8-bit pyramidal TIFF WriteHeatmapTiff makes of it
};

// Writes `map` as an 8-bit (probability × 255) pyramidal tiled TIFF at map.tiff_path, one pixel per cell,
// deflate-compressed, without holding the map in memory.
Status WriteHeatmapTiff(const ClassMap& map, int64_t rows, int64_t cols);

// Writes `thumbnail` of a width x height slide with the maps over its tissue (`mask`, made from the same thumbnail):
// each pixel takes the colour of its most probable class, as opaque as that probability; glass stays as it is, as in
// pathology viewers. Each map is shrunk by libvips first, so memory stays bounded.
Status WritePreviewPng(const Pixels& thumbnail, const TissueMask& mask, int64_t width, int64_t height,
                       const DenseGrid& grid, const std::vector<ClassMap>& maps, int64_t rows, int64_t cols,
                       const std::string& path);

// Writes the detections as a GeoJSON FeatureCollection in slide pixels: one Polygon (the box) per detection, its
// class (QuPath's "classification" with name and colour), score and class index in `properties`.
Status WriteGeoJson(const std::vector<SlideDetection>& detections, const std::string& slide_path,
                    const std::string& path);

// The map file as a lazy float vips image (nothing is read until it is written somewhere): a new reference, or null
// with libvips' error set.
VipsImage* LoadMapImage(const ClassMap& map, int64_t rows, int64_t cols);

// The 8-bit TIFF of the map as a lazy vips image read tile by tile, the same way. Whole-map passes that only draw
// (the viewer's overlay) read these: the float maps are memory-mapped, and every page a pass over them touches counts
// in the process's resident memory until the pass ends (360 MB over ten 10,000² maps).
VipsImage* LoadMapBytes(const ClassMap& map);

// The colour a class is drawn in (previews, GeoJSON), from a fixed palette of distinct hues.
std::array<uint8_t, 3> ClassColour(int64_t class_index);

}  // namespace fovea::slide
