#pragma once
// The one-page viewer `fovea slide` leaves next to its results: the slide and its class map as DeepZoom pyramids
// (libvips dzsave) shown by OpenSeadragon, copied into the folder (no CDN, works from file:// without a network), the
// map over the slide with its opacity adjustable.

#include <string>
#include <vector>

#include "common/status.h"
#include "slide/slide_image.h"
#include "slide/slide_outputs.h"
#include "slide/tile_plan.h"

namespace fovea::slide {

struct ViewerPage {
  std::string dir;   // the output folder
  std::string name;  // the slide's output name: <name>.html, <name>.dzi / <name>_files, <name>.overlay_files
  std::string title;
  int64_t slide_width = 0, slide_height = 0;  // of the mapped level
  DenseGrid grid;
  int64_t rows = 0, cols = 0;
  std::vector<ClassMap> maps;
  std::string assets;  // OpenSeadragon's build folder (openseadragon.min.js, images/)
};

// The OpenSeadragon build folder: FOVEA_VIEWER_ASSETS when set, else the one the build installed
// (slide/viewer/node_modules, scripts/install-deps.sh); "" when neither exists.
std::string FindViewerAssets();

// Writes DIR/<name>.html, the slide's DeepZoom pyramid from `slide` (its mapped level) and the overlay's: each
// cell the colour of its most probable class (ClassColour), alpha the probability, one pixel per cell, placed over the
// cell's window centre. The overlay is read from the maps' 8-bit TIFFs (ClassMap::tiff_path), which must exist. Streams
// through libvips: memory stays bounded whatever the slide's size.
Status WriteViewer(const ViewerPage& page, const SlideImage& slide);

}  // namespace fovea::slide
