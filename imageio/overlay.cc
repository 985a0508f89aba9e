// Colormaps, heatmap rendering, overlays and box outlines.

#include "imageio/overlay.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fovea::imageio {
namespace {

constexpr float kMaxSampleF = 255.0f;
constexpr int kMaxSample = 255;
constexpr int64_t kRgbChannels = 3;

// Control points, evenly spaced from t = 0 to t = 1, read off the published viridis and inferno maps at six stops;
// linear interpolation between them stays within a few levels of the originals.
constexpr std::array<Rgb, 6> kViridisStops = {{
    {0x44, 0x01, 0x54},
    {0x41, 0x44, 0x87},
    {0x2a, 0x78, 0x8e},
    {0x22, 0xa8, 0x84},
    {0x7a, 0xd1, 0x51},
    {0xfd, 0xe7, 0x25},
}};
constexpr std::array<Rgb, 6> kInfernoStops = {{
    {0x00, 0x00, 0x04},
    {0x42, 0x0a, 0x68},
    {0x93, 0x26, 0x67},
    {0xdd, 0x51, 0x3a},
    {0xfc, 0xa5, 0x0a},
    {0xfc, 0xff, 0xa4},
}};

uint8_t ToSample(double unit_value) {
  return static_cast<uint8_t>(std::lround(std::clamp(unit_value, 0.0, 1.0) * kMaxSample));
}

// Jet as three clipped triangle ramps centred at t = 1/4 (blue), 1/2 (green) and 3/4 (red).
std::array<Rgb, kColormapSize> BuildJet() {
  std::array<Rgb, kColormapSize> table{};
  for (int i = 0; i < kColormapSize; ++i) {
    const double t = static_cast<double>(i) / (kColormapSize - 1);
    table[i] = {ToSample(1.5 - std::abs(4.0 * t - 3.0)), ToSample(1.5 - std::abs(4.0 * t - 2.0)),
                ToSample(1.5 - std::abs(4.0 * t - 1.0))};
  }
  return table;
}

template <size_t kStops>
std::array<Rgb, kColormapSize> InterpolateStops(const std::array<Rgb, kStops>& stops) {
  std::array<Rgb, kColormapSize> table{};
  for (int i = 0; i < kColormapSize; ++i) {
    const double position = static_cast<double>(i) * (kStops - 1) / (kColormapSize - 1);
    const size_t left = std::min(static_cast<size_t>(position), kStops - 2);
    const double fraction = position - static_cast<double>(left);
    for (size_t c = 0; c < 3; ++c) {
      const double value = (1.0 - fraction) * stops[left][c] + fraction * stops[left + 1][c];
      table[i][c] = static_cast<uint8_t>(std::lround(value));
    }
  }
  return table;
}

// Paints the clipped, inclusive rectangle [x0, x1] x [y0, y1].
void FillRect(Image& image, int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb color) {
  x0 = std::max<int64_t>(x0, 0);
  y0 = std::max<int64_t>(y0, 0);
  x1 = std::min(x1, image.width - 1);
  y1 = std::min(y1, image.height - 1);
  const int64_t channels = image.channels;
  const bool has_alpha = channels == 2 || channels == 4;
  const uint8_t gray = LumaBt601(color[0], color[1], color[2]);
  for (int64_t y = y0; y <= y1; ++y) {
    for (int64_t x = x0; x <= x1; ++x) {
      uint8_t* pixel = image.row(y) + x * channels;
      if (channels >= 3) {
        std::copy(color.begin(), color.end(), pixel);
      } else {
        pixel[0] = gray;
      }
      if (has_alpha) pixel[channels - 1] = kMaxSample;
    }
  }
}

}  // namespace

const std::array<Rgb, kColormapSize>& ColormapTable(Colormap colormap) {
  static const std::array<Rgb, kColormapSize> kJet = BuildJet();
  static const std::array<Rgb, kColormapSize> kViridis = InterpolateStops(kViridisStops);
  static const std::array<Rgb, kColormapSize> kInferno = InterpolateStops(kInfernoStops);
  switch (colormap) {
    case Colormap::kViridis:
      return kViridis;
    case Colormap::kInferno:
      return kInferno;
    case Colormap::kJet:
      break;
  }
  return kJet;
}

StatusOr<Colormap> ParseColormap(std::string_view name) {
  if (name == "jet") return Colormap::kJet;
  if (name == "viridis") return Colormap::kViridis;
  if (name == "inferno") return Colormap::kInferno;
  return InvalidArgument("unknown colormap \"" + std::string(name) + "\"; choose jet, viridis or inferno");
}

Image RenderHeatmap(std::span<const float> values, int64_t width, int64_t height, float lo, float hi,
                    Colormap colormap) {
  if (width <= 0 || height <= 0 || values.size() != static_cast<size_t>(width * height)) return {};
  const std::array<Rgb, kColormapSize>& table = ColormapTable(colormap);
  const float range = hi - lo;
  Image image{.width = width, .height = height, .channels = kRgbChannels, .pixels = {}};
  image.pixels.resize(values.size() * kRgbChannels);
  for (size_t i = 0; i < values.size(); ++i) {
    float unit = range > 0.0f ? (values[i] - lo) / range : 0.0f;
    if (std::isnan(unit)) unit = 0.0f;
    const auto index = static_cast<size_t>(std::lround(std::clamp(unit, 0.0f, 1.0f) * (kColormapSize - 1)));
    std::copy(table[index].begin(), table[index].end(), image.pixels.begin() + i * kRgbChannels);
  }
  return image;
}

Image Overlay(const Image& base, const Image& heat, float alpha) {
  if (base.width <= 0 || base.height <= 0 || heat.width <= 0 || heat.height <= 0) return {};
  Image out = ConvertChannels(base, kRgbChannels);
  Image heat_rgb = ConvertChannels(heat, kRgbChannels);
  if (heat_rgb.width != base.width || heat_rgb.height != base.height) {
    heat_rgb = Resize(heat_rgb, base.width, base.height);
  }
  const float heat_weight = std::isnan(alpha) ? 0.0f : std::clamp(alpha, 0.0f, 1.0f);
  const float base_weight = 1.0f - heat_weight;
  for (size_t i = 0; i < out.pixels.size(); ++i) {
    const float blended = base_weight * out.pixels[i] + heat_weight * heat_rgb.pixels[i];
    // Both terms are non-negative, so adding 0.5 and truncating rounds correctly (and is cheaper than lround).
    out.pixels[i] =
        static_cast<uint8_t>(std::min(blended, kMaxSampleF) + 0.5f);  // NOLINT(bugprone-incorrect-roundings)
  }
  return out;
}

void DrawBox(Image& image, int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb color, int64_t thickness) {
  if (thickness <= 0 || image.width <= 0 || image.height <= 0) return;
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  // A band never needs to be wider than the box; capping it also keeps `y0 + band` below from overflowing.
  const int64_t band = std::min(thickness, std::max(x1 - x0, y1 - y0) + 1);
  FillRect(image, x0, y0, x1, std::min(y1, y0 + band - 1), color);  // top
  FillRect(image, x0, std::max(y0, y1 - band + 1), x1, y1, color);  // bottom
  FillRect(image, x0, y0, std::min(x1, x0 + band - 1), y1, color);  // left
  FillRect(image, std::max(x0, x1 - band + 1), y0, x1, y1, color);  // right
}

}  // namespace fovea::imageio
