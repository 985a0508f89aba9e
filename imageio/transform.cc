// Pixel-format conversion, resizing and normalization to planar float: the steps between a decoded image and a
// model's input tensor.

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "imageio/image.h"

namespace fovea::imageio {
namespace {

constexpr int kMaxSample = 255;
constexpr float kMaxSampleF = 255.0f;
// ITU-R BT.601 luma weights in thousandths, so gray conversion stays in exact integer arithmetic.
constexpr int kLumaRed = 299;
constexpr int kLumaGreen = 587;
constexpr int kLumaBlue = 114;
constexpr int kLumaScale = 1000;
// Past this shrink factor bilinear sampling skips source pixels (aliasing), so Resize switches to area averaging.
constexpr double kAreaAveragingMinShrink = 2.0;

bool IsSupportedChannelCount(int64_t channels) { return channels >= 1 && channels <= 4; }

// Reads one pixel of any supported layout as straight (non-premultiplied) RGBA.
std::array<int, 4> ToRgba(const uint8_t* pixel, int64_t channels) {
  switch (channels) {
    case 1:
      return {pixel[0], pixel[0], pixel[0], kMaxSample};
    case 2:
      return {pixel[0], pixel[0], pixel[0], pixel[1]};
    case 3:
      return {pixel[0], pixel[1], pixel[2], kMaxSample};
    default:
      return {pixel[0], pixel[1], pixel[2], pixel[3]};
  }
}

int Luma(int red, int green, int blue) {
  return (kLumaRed * red + kLumaGreen * green + kLumaBlue * blue + kLumaScale / 2) / kLumaScale;
}

int OverBlack(int value, int alpha) { return (value * alpha + kMaxSample / 2) / kMaxSample; }

// Writes straight RGBA as `channels`; when alpha is dropped the colour is composited over black.
void FromRgba(const std::array<int, 4>& rgba, int64_t channels, uint8_t* pixel) {
  const bool keeps_alpha = channels == 2 || channels == 4;
  const int alpha = keeps_alpha ? kMaxSample : rgba[3];
  const int red = OverBlack(rgba[0], alpha);
  const int green = OverBlack(rgba[1], alpha);
  const int blue = OverBlack(rgba[2], alpha);
  if (channels <= 2) {
    pixel[0] = static_cast<uint8_t>(Luma(red, green, blue));
  } else {
    pixel[0] = static_cast<uint8_t>(red);
    pixel[1] = static_cast<uint8_t>(green);
    pixel[2] = static_cast<uint8_t>(blue);
  }
  if (keeps_alpha) pixel[channels - 1] = static_cast<uint8_t>(rgba[3]);
}

// For every output index along one axis: the first source index and the weights of consecutive source samples.
struct AxisTaps {
  std::vector<int64_t> first_source;
  std::vector<size_t> weight_begin;  // output index i uses weights[weight_begin[i] .. weight_begin[i + 1])
  std::vector<float> weights;
};

// Bilinear with half-pixel centers; coordinates outside the source clamp to the edge samples (as OpenCV).
AxisTaps BilinearTaps(int64_t source_size, int64_t output_size) {
  AxisTaps taps;
  const double scale = static_cast<double>(source_size) / static_cast<double>(output_size);
  for (int64_t out = 0; out < output_size; ++out) {
    const double center = std::max(0.0, (static_cast<double>(out) + 0.5) * scale - 0.5);
    const int64_t left = std::min(static_cast<int64_t>(center), source_size - 1);
    const double fraction = left + 1 < source_size ? center - static_cast<double>(left) : 0.0;
    taps.first_source.push_back(left);
    taps.weight_begin.push_back(taps.weights.size());
    taps.weights.push_back(static_cast<float>(1.0 - fraction));
    if (left + 1 < source_size) taps.weights.push_back(static_cast<float>(fraction));
  }
  taps.weight_begin.push_back(taps.weights.size());
  return taps;
}

// Each output sample is the mean of the source interval it covers, partial pixels weighted by their overlap.
AxisTaps AreaTaps(int64_t source_size, int64_t output_size) {
  AxisTaps taps;
  const double scale = static_cast<double>(source_size) / static_cast<double>(output_size);
  for (int64_t out = 0; out < output_size; ++out) {
    const double start = static_cast<double>(out) * scale;
    const double end = std::min(static_cast<double>(out + 1) * scale, static_cast<double>(source_size));
    const auto first = static_cast<int64_t>(start);
    taps.first_source.push_back(first);
    taps.weight_begin.push_back(taps.weights.size());
    for (int64_t source = first; static_cast<double>(source) < end; ++source) {
      const double overlap = std::min(end, source + 1.0) - std::max(start, static_cast<double>(source));
      taps.weights.push_back(static_cast<float>(overlap / (end - start)));
    }
  }
  taps.weight_begin.push_back(taps.weights.size());
  return taps;
}

AxisTaps TapsFor(int64_t source_size, int64_t output_size) {
  const bool large_shrink =
      static_cast<double>(source_size) >= kAreaAveragingMinShrink * static_cast<double>(output_size);
  return large_shrink ? AreaTaps(source_size, output_size) : BilinearTaps(source_size, output_size);
}

// Weighted sum giving output sample `out` along one axis; consecutive source samples are `stride` floats apart.
float ApplyTaps(const AxisTaps& taps, int64_t out, const float* source, size_t stride) {
  float sum = 0.0f;
  const float* sample = source + taps.first_source[out] * stride;
  for (size_t w = taps.weight_begin[out]; w < taps.weight_begin[out + 1]; ++w, sample += stride) {
    sum += taps.weights[w] * *sample;
  }
  return sum;
}

// Rounds half up. The value is non-negative after clamping, so adding 0.5 and truncating is exact rounding and far
// cheaper than std::lround in the per-sample loops.
uint8_t RoundToSample(float value) {
  return static_cast<uint8_t>(std::clamp(value, 0.0f, kMaxSampleF) + 0.5f);  // NOLINT(bugprone-incorrect-roundings)
}

// Rows of interleaved samples (uint8 for a decoded image, float between the two resize passes).
template <typename Sample>
struct RowsView {
  const Sample* samples;
  int64_t width;
  int64_t height;
  int64_t channels;
  const Sample* row(int64_t y) const { return samples + y * width * channels; }
};

// Horizontal pass: every row resized to `out_width`, as floats (in.height x out_width x channels).
template <typename Sample>
std::vector<float> ResizeRowsHorizontally(const RowsView<Sample>& in, const AxisTaps& horizontal, int64_t out_width) {
  const auto channels = static_cast<size_t>(in.channels);
  const size_t out_row = static_cast<size_t>(out_width) * channels;
  std::vector<float> source_row(static_cast<size_t>(in.width) * channels);
  std::vector<float> rows(static_cast<size_t>(in.height) * out_row);
  for (int64_t y = 0; y < in.height; ++y) {
    std::copy_n(in.row(y), source_row.size(), source_row.begin());
    float* dst = rows.data() + y * out_row;
    for (int64_t x = 0; x < out_width; ++x) {
      for (size_t c = 0; c < channels; ++c) {
        dst[x * channels + c] = ApplyTaps(horizontal, x, source_row.data() + c, channels);
      }
    }
  }
  return rows;
}

// Vertical pass: each output row is a weighted sum of whole source rows (out_height x in.width x channels floats),
// accumulated row by row so the inner loop is a contiguous multiply-add the compiler vectorizes.
template <typename Sample>
std::vector<float> CombineRowsVertically(const RowsView<Sample>& in, const AxisTaps& vertical, int64_t out_height) {
  const auto row_size = static_cast<size_t>(in.width * in.channels);
  std::vector<float> rows(static_cast<size_t>(out_height) * row_size, 0.0f);
  for (int64_t y = 0; y < out_height; ++y) {
    float* accumulator = rows.data() + y * row_size;
    int64_t source_y = vertical.first_source[y];
    for (size_t w = vertical.weight_begin[y]; w < vertical.weight_begin[y + 1]; ++w, ++source_y) {
      const float weight = vertical.weights[w];
      const Sample* source = in.row(source_y);
      for (size_t i = 0; i < row_size; ++i) accumulator[i] += weight * static_cast<float>(source[i]);
    }
  }
  return rows;
}

Image RoundedImage(const std::vector<float>& samples, int64_t width, int64_t height, int64_t channels) {
  Image out{.width = width, .height = height, .channels = channels, .pixels = {}};
  out.pixels.resize(samples.size());
  std::transform(samples.begin(), samples.end(), out.pixels.begin(), RoundToSample);
  return out;
}

}  // namespace

uint8_t LumaBt601(uint8_t red, uint8_t green, uint8_t blue) { return static_cast<uint8_t>(Luma(red, green, blue)); }

Image ConvertChannels(const Image& image, int64_t channels) {
  if (!IsSupportedChannelCount(channels) || !IsSupportedChannelCount(image.channels)) return {};
  if (channels == image.channels) return image;
  const int64_t pixel_count = image.width * image.height;
  Image out{.width = image.width, .height = image.height, .channels = channels, .pixels = {}};
  out.pixels.resize(static_cast<size_t>(pixel_count * channels));
  for (int64_t i = 0; i < pixel_count; ++i) {
    FromRgba(ToRgba(image.pixels.data() + i * image.channels, image.channels), channels,
             out.pixels.data() + i * channels);
  }
  return out;
}

Image Resize(const Image& image, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 || image.width <= 0 || image.height <= 0) return {};
  const AxisTaps horizontal = TapsFor(image.width, width);
  const AxisTaps vertical = TapsFor(image.height, height);
  const RowsView<uint8_t> source{image.pixels.data(), image.width, image.height, image.channels};
  // Separable, and the pass that leaves the smaller intermediate goes first: resized horizontally first, a tall thin
  // image would expand every one of its rows to the output width (4 x 16,384, an image the decoder's limits let
  // through, became 1.8 M floats for a 28 x 28 result; 1 x 16,000,000 would need 1.8 GB).
  std::vector<float> resized;
  if (image.height * width <= height * image.width) {
    const std::vector<float> rows = ResizeRowsHorizontally(source, horizontal, width);
    resized =
        CombineRowsVertically(RowsView<float>{rows.data(), width, image.height, image.channels}, vertical, height);
  } else {
    const std::vector<float> rows = CombineRowsVertically(source, vertical, height);
    resized =
        ResizeRowsHorizontally(RowsView<float>{rows.data(), image.width, height, image.channels}, horizontal, width);
  }
  return RoundedImage(resized, width, height, image.channels);
}

void ToPlanarFloat(const Image& image, std::span<const float> mean, std::span<const float> std, float* dst) {
  const int64_t plane = image.width * image.height;
  for (int64_t c = 0; c < image.channels; ++c) {
    // Channels without a mean/std entry are only scaled to [0, 1] (see the header).
    const float channel_mean = static_cast<size_t>(c) < mean.size() ? mean[c] : 0.0f;
    const float channel_std = static_cast<size_t>(c) < std.size() ? std[c] : 1.0f;
    const float scale = 1.0f / (kMaxSampleF * channel_std);
    const float shift = channel_mean / channel_std;
    float* out = dst + c * plane;
    const uint8_t* in = image.pixels.data() + c;
    if (image.channels == 1) {
      // Contiguous samples: the compiler vectorizes this loop, not the strided one.
      for (int64_t i = 0; i < plane; ++i) out[i] = static_cast<float>(in[i]) * scale - shift;
    } else {
      for (int64_t i = 0; i < plane; ++i) out[i] = static_cast<float>(in[i * image.channels]) * scale - shift;
    }
  }
}

}  // namespace fovea::imageio

namespace fovea::imageio {
namespace {

// PIL's fixed point for 8-bit resampling: 32 bits less 8 for the sample and 2 of headroom.
constexpr int kTriangleFractionBits = 22;
constexpr double kTriangleOne = static_cast<double>(1 << kTriangleFractionBits);

// One axis of a triangle-filter resize: for each output sample, its first source sample and fixed-point weights.
struct FixedTaps {
  std::vector<int64_t> first_source;
  std::vector<size_t> weight_begin;  // output i uses weights[weight_begin[i] .. weight_begin[i + 1])
  std::vector<int32_t> weights;
};

FixedTaps TriangleTaps(int64_t source_size, int64_t output_size) {
  const double scale = static_cast<double>(source_size) / static_cast<double>(output_size);
  // Shrinking widens the filter to the shrink factor, so each output sample averages every source sample it covers.
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // the triangle's own support is 1
  FixedTaps taps;
  std::vector<double> weights;
  for (int64_t out = 0; out < output_size; ++out) {
    const double center = (static_cast<double>(out) + 0.5) * scale;
    const auto first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const auto end = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), source_size);
    weights.clear();
    double total = 0.0;
    for (int64_t source = first; source < end; ++source) {
      const double distance = std::abs((static_cast<double>(source) - center + 0.5) / filter_scale);
      weights.push_back(distance < 1.0 ? 1.0 - distance : 0.0);
      total += weights.back();
    }
    taps.first_source.push_back(first);
    taps.weight_begin.push_back(taps.weights.size());
    for (double weight : weights) {
      const double fixed = (total != 0.0 ? weight / total : weight) * kTriangleOne;
      taps.weights.push_back(static_cast<int32_t>(fixed < 0 ? fixed - 0.5 : fixed + 0.5));
    }
  }
  taps.weight_begin.push_back(taps.weights.size());
  return taps;
}

// Output sample `out` from 8-bit samples `stride` apart, rounded and clamped to 8 bits.
uint8_t ApplyFixedTaps(const FixedTaps& taps, int64_t out, const uint8_t* source, size_t stride) {
  int64_t sum = int64_t{1} << (kTriangleFractionBits - 1);
  const uint8_t* sample = source + taps.first_source[out] * static_cast<int64_t>(stride);
  for (size_t w = taps.weight_begin[out]; w < taps.weight_begin[out + 1]; ++w, sample += stride) {
    sum += static_cast<int64_t>(*sample) * taps.weights[w];
  }
  return static_cast<uint8_t>(std::clamp<int64_t>(sum >> kTriangleFractionBits, 0, kMaxSample));
}

// Python's round() of a half-integer offset: half to even, as torchvision's CenterCrop computes it.
int64_t CropOffset(int64_t source, int64_t size) {
  if (source < size) return -((size - source) / 2);  // padded: the source sits at the padding's offset
  return static_cast<int64_t>(std::nearbyint(static_cast<double>(source - size) / 2.0));
}

}  // namespace

Image ResizeTriangle(const Image& image, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0 || image.width <= 0 || image.height <= 0) return {};
  const FixedTaps horizontal = TriangleTaps(image.width, width);
  const FixedTaps vertical = TriangleTaps(image.height, height);
  const auto channels = static_cast<size_t>(image.channels);
  // Rows first and rounded to 8 bits in between, as PIL does, so that the result matches PIL's to the sample.
  Image rows{.width = width, .height = image.height, .channels = image.channels, .pixels = {}};
  rows.pixels.resize(static_cast<size_t>(width * image.height) * channels);
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      for (size_t c = 0; c < channels; ++c) {
        rows.row(y)[x * image.channels + static_cast<int64_t>(c)] =
            ApplyFixedTaps(horizontal, x, image.row(y) + c, channels);
      }
    }
  }
  Image out{.width = width, .height = height, .channels = image.channels, .pixels = {}};
  out.pixels.resize(static_cast<size_t>(width * height) * channels);
  const size_t row_stride = static_cast<size_t>(width) * channels;
  for (int64_t y = 0; y < height; ++y) {
    for (size_t i = 0; i < row_stride; ++i)
      out.row(y)[i] = ApplyFixedTaps(vertical, y, rows.pixels.data() + i, row_stride);
  }
  return out;
}

Image CropCenter(const Image& image, int64_t width, int64_t height) {
  if (width <= 0 || height <= 0) return {};
  Image out{.width = width, .height = height, .channels = image.channels, .pixels = {}};
  out.pixels.assign(static_cast<size_t>(width * height * image.channels), 0);
  const int64_t left = CropOffset(image.width, width);
  const int64_t top = CropOffset(image.height, height);
  for (int64_t y = 0; y < height; ++y) {
    const int64_t source_y = y + top;
    if (source_y < 0 || source_y >= image.height) continue;
    const int64_t first_x = std::max<int64_t>(0, -left);
    const int64_t last_x = std::min(width, image.width - left);
    if (first_x >= last_x) continue;
    std::copy(image.row(source_y) + (first_x + left) * image.channels,
              image.row(source_y) + (last_x + left) * image.channels, out.row(y) + first_x * image.channels);
  }
  return out;
}

void SwapRedBlue(Image& image) {
  if (image.channels != 3 && image.channels != 4) return;
  for (size_t i = 0; i + 2 < image.pixels.size(); i += static_cast<size_t>(image.channels)) {
    std::swap(image.pixels[i], image.pixels[i + 2]);
  }
}

void ToInterleavedFloat(const Image& image, std::span<const float> mean, std::span<const float> std, float* dst) {
  const auto channels = static_cast<size_t>(image.channels);
  std::vector<float> scale(channels);
  std::vector<float> shift(channels);
  for (size_t c = 0; c < channels; ++c) {
    const float channel_std = c < std.size() ? std[c] : 1.0f;
    scale[c] = 1.0f / (kMaxSampleF * channel_std);
    shift[c] = (c < mean.size() ? mean[c] : 0.0f) / channel_std;
  }
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    const size_t c = i % channels;
    dst[i] = static_cast<float>(image.pixels[i]) * scale[c] - shift[c];
  }
}

}  // namespace fovea::imageio
