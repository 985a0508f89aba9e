#pragma once
// Heatmap rendering for localization results: colormaps, a value grid painted as an RGB image, alpha-blending that
// image over the input photo, and rectangle outlines for detected boxes.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"
#include "imageio/image.h"

namespace fovea::imageio {

// A 256-entry colour table; index 0 is the low end of the value range, 255 the high end.
enum class Colormap {
  kJet,      // blue → cyan → yellow → red, the classic saliency-map look
  kViridis,  // dark purple → teal → yellow; perceptually uniform and colour-blind safe
  kInferno,  // black → purple → orange → pale yellow; perceptually uniform
};

using Rgb = std::array<uint8_t, 3>;
constexpr int kColormapSize = 256;

// The table for `colormap`, computed once from formulas/control points and shared (static storage, never freed).
const std::array<Rgb, kColormapSize>& ColormapTable(Colormap colormap);

// Parses "jet", "viridis" or "inferno"; anything else is InvalidArgument listing the choices.
StatusOr<Colormap> ParseColormap(std::string_view name);

// Paints `values` (height * width floats, row-major) as an RGB image: lo maps to the first colour, hi to the last,
// values outside [lo, hi] clamp, NaN maps to lo. When hi <= lo every value maps to the first colour. Returns an
// empty image when values.size() != width * height or a dimension is not positive.
Image RenderHeatmap(std::span<const float> values, int64_t width, int64_t height, float lo, float hi,
                    Colormap colormap);

// Returns an RGB image of base's size: (1 - alpha) * base + alpha * heat, with `heat` resized to base's size by
// Resize (bilinear when enlarging, which is the usual case for a coarse heatmap). Gray bases are expanded to RGB and
// alpha channels are composited over black first. alpha is clamped to [0, 1].
Image Overlay(const Image& base, const Image& heat, float alpha);

// Draws the outline of the box whose corner pixels are (x0, y0) and (x1, y1), inclusive, in `color`; the outline is
// `thickness` pixels wide, grows inward from the box edge, and is clipped to the image. Gray images get the colour's
// luma; an alpha channel is set opaque where drawn. Corners may be given in either order.
void DrawBox(Image& image, int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb color, int64_t thickness);

}  // namespace fovea::imageio
