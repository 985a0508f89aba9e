#pragma once
// Reads a coarse localization map at every pixel of the image it describes, for drawing it over that image.

#include <cstdint>

#include "engine/localization/map_geometry.h"
#include "engine/tensor.h"

namespace fovea::engine::localization {

// A [height, width] tensor whose pixel (x, y) is `map` ([rows, cols]) interpolated bilinearly at the cell coordinates
// of the pixel centre, ((x + 0.5 - offset_x) / stride_x, (y + 0.5 - offset_y) / stride_y), clamped to the map. So
// each cell's value sits exactly over the pixels the geometry says it describes.
Tensor ResampleToImage(const Tensor& map, const MapGeometry& geometry, int64_t width, int64_t height);

}  // namespace fovea::engine::localization
