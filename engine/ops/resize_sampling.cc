#include "engine/ops/resize_sampling.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace fovea::engine::ops {
namespace {

// oneDNN resamples only spatial axes: its memories are [N, C, spatial...] with 1 to 3 spatial axes.
constexpr size_t kDnnlMinResamplingRank = 3;
constexpr size_t kDnnlMaxResamplingRank = 5;
constexpr size_t kBatchAndChannelAxes = 2;
// Tap weights closer than this count as equal when comparing with oneDNN: they only differ in how a float was rounded.
constexpr double kWeightTolerance = 1e-6;
// A nearest coordinate this close to halfway between two pixels (but not exactly there) could round either way in
// oneDNN's float arithmetic; such axes stay on Fovea's loops.
constexpr double kTieMargin = 1e-4;
constexpr double kHalf = 0.5;

struct Tap {
  int64_t index;
  double weight;
};

// Where output index `o` samples the input axis, in input pixel coordinates (pixel i's center is at i).
double InputCoordinate(CoordinateTransform transform, int64_t o, int64_t in, int64_t out, double scale, double length,
                       double start, double end) {
  const double y = static_cast<double>(o);
  const double last_in = static_cast<double>(in - 1), last_out = static_cast<double>(out - 1);
  switch (transform) {
    case CoordinateTransform::kHalfPixel:
      return (y + kHalf) / scale - kHalf;
    case CoordinateTransform::kPytorchHalfPixel:
      return out > 1 ? (y + kHalf) / scale - kHalf : 0.0;
    case CoordinateTransform::kAlignCorners:
      return out > 1 ? y * last_in / (length - 1.0) : 0.0;
    case CoordinateTransform::kAsymmetric:
      return y / scale;
    case CoordinateTransform::kTfHalfPixelForNn:
      return (y + kHalf) / scale;
    case CoordinateTransform::kTfCropAndResize:
      return out > 1 ? start * last_in + y * (end - start) * last_in / last_out : kHalf * (start + end) * last_in;
  }
  return y;
}

int64_t NearestIndex(double c, NearestRounding rounding) {
  const double floor = std::floor(c);
  const bool tie = c - floor == kHalf;
  switch (rounding) {
    case NearestRounding::kRoundPreferFloor:
      return static_cast<int64_t>(tie ? floor : std::floor(c + kHalf));
    case NearestRounding::kRoundPreferCeil:
      return static_cast<int64_t>(tie ? floor + 1 : std::floor(c + kHalf));
    case NearestRounding::kFloor:
      return static_cast<int64_t>(floor);
    case NearestRounding::kCeil:
      return static_cast<int64_t>(std::ceil(c));
  }
  return static_cast<int64_t>(floor);
}

// Keys' cubic convolution kernel with parameter a, at distance s from the sample.
double CubicWeight(double s, double a) {
  s = std::abs(s);
  if (s <= 1.0) return ((a + 2.0) * s - (a + 3.0)) * s * s + 1.0;
  if (s < 2.0) return ((a * s - 5.0 * a) * s + 8.0 * a) * s - 4.0 * a;
  return 0.0;
}

// The taps of one output element before clamping: one (nearest), two (linear) or four (cubic) around coordinate c.
std::vector<Tap> RawTaps(const SamplingParams& params, double c, int64_t in) {
  if (params.mode == ResizeMode::kNearest) return {{NearestIndex(c, params.rounding), 1.0}};
  const double floor = std::floor(c);
  const double t = c - floor;
  const auto base = static_cast<int64_t>(floor);
  if (params.mode == ResizeMode::kLinear) return {{base, 1.0 - t}, {base + 1, t}};
  std::vector<Tap> taps;
  double sum = 0.0;
  for (int64_t k = -1; k <= 2; ++k) {
    const int64_t index = base + k;
    double w = CubicWeight(static_cast<double>(k) - t, params.cubic_coeff_a);
    if (params.exclude_outside && (index < 0 || index >= in)) w = 0.0;
    sum += w;
    taps.push_back({index, w});
  }
  if (params.exclude_outside && sum != 0.0) {
    for (auto& tap : taps) tap.weight /= sum;
  }
  return taps;
}

// Appends `raw` to `axis` as the taps of the next output index: indices clamped to [0, in), equal indices merged,
// zero weights dropped, in increasing index order.
void AppendTaps(std::vector<Tap> raw, int64_t in, AxisTaps& axis) {
  for (auto& tap : raw) tap.index = std::clamp<int64_t>(tap.index, 0, in - 1);
  std::sort(raw.begin(), raw.end(), [](const Tap& a, const Tap& b) { return a.index < b.index; });
  for (size_t i = 0; i < raw.size();) {
    double w = 0.0;
    size_t j = i;
    for (; j < raw.size() && raw[j].index == raw[i].index; ++j) w += raw[j].weight;
    if (w != 0.0) {
      axis.index.push_back(raw[i].index);
      axis.weight.push_back(w);
    }
    i = j;
  }
  axis.first.push_back(static_cast<int64_t>(axis.index.size()));
}

AxisTaps MakeAxisTaps(const SamplingParams& params, int64_t in, int64_t out, double scale, double length, double start,
                      double end) {
  AxisTaps axis;
  axis.first.push_back(0);
  const double last_in = static_cast<double>(in - 1);
  for (int64_t o = 0; o < out; ++o) {
    const double c = InputCoordinate(params.transform, o, in, out, scale, length, start, end);
    const bool outside = params.transform == CoordinateTransform::kTfCropAndResize && (c < 0.0 || c > last_in);
    axis.outside.push_back(outside ? 1 : 0);
    AppendTaps(outside ? std::vector<Tap>{} : RawTaps(params, c, in), in, axis);
  }
  return axis;
}

// The taps oneDNN's `algorithm` reads on a spatial axis (see OneDnnResamplingFor), or nullopt when its nearest
// coordinate sits too close to a tie to be sure which way oneDNN rounds it.
std::optional<AxisTaps> OneDnnAxisTaps(dnnl::algorithm algorithm, int64_t in, int64_t out) {
  AxisTaps axis;
  axis.first.push_back(0);
  for (int64_t o = 0; o < out; ++o) {
    const double c = (static_cast<double>(o) + kHalf) * static_cast<double>(in) / static_cast<double>(out) - kHalf;
    axis.outside.push_back(0);
    const double floor = std::floor(c);
    if (algorithm == dnnl::algorithm::resampling_nearest) {
      const double from_tie = std::abs(c - floor - kHalf);
      if (from_tie != 0.0 && from_tie < kTieMargin) return std::nullopt;
      AppendTaps({{static_cast<int64_t>(std::floor(c + kHalf)), 1.0}}, in, axis);
    } else {
      const double t = c - floor;
      const auto base = static_cast<int64_t>(floor);
      AppendTaps({{base, 1.0 - t}, {base + 1, t}}, in, axis);
    }
  }
  return axis;
}

bool SameTaps(const AxisTaps& a, const AxisTaps& b) {
  if (a.first != b.first || a.index != b.index || a.outside != b.outside) return false;
  for (size_t i = 0; i < a.weight.size(); ++i) {
    if (std::abs(a.weight[i] - b.weight[i]) > kWeightTolerance) return false;
  }
  return true;
}

bool IsIdentity(const AxisTaps& axis, int64_t in, int64_t out) {
  if (in != out) return false;
  for (size_t o = 0; o < static_cast<size_t>(out); ++o) {
    const auto t = static_cast<size_t>(axis.first[o]);
    const bool one_tap = axis.first[o + 1] == axis.first[o] + 1;
    if (axis.outside[o] != 0 || !one_tap || axis.index[t] != static_cast<int64_t>(o) ||
        std::abs(axis.weight[t] - 1.0) > kWeightTolerance) {
      return false;
    }
  }
  return true;
}

struct Combination {
  int64_t offset;
  double weight;
};

// Calls leaf(row_offset, outside, outer) for every output row (the elements along the last axis) in row-major order:
// the row starts at output offset row_offset, and its element o reads input offset c.offset + last.index[t] with
// weight c.weight · last.weight[t] for every combination c in `outer` of the taps of the other axes and every tap t
// of element o along the last axis. `outside` says that some other axis extrapolates for the whole row.
template <typename Leaf>
void VisitRows(const ResizeTaps& taps, Leaf&& leaf) {
  const size_t rank = taps.input.size();
  std::vector<int64_t> strides(rank, 1);
  for (size_t a = rank; a-- > 1;) strides[a - 1] = strides[a] * taps.input[a];
  std::vector<std::vector<Combination>> combinations(rank);
  combinations[0] = {{0, 1.0}};
  const int64_t width = taps.output.back();
  int64_t row_offset = 0;
  const auto walk = [&](const auto& self, size_t axis, bool outside) -> void {
    if (axis + 1 == rank) {
      leaf(row_offset, outside, combinations[axis]);
      row_offset += width;
      return;
    }
    const AxisTaps& a = taps.axes[axis];
    for (size_t o = 0; o < static_cast<size_t>(taps.output[axis]); ++o) {
      auto& next = combinations[axis + 1];
      next.clear();
      for (const Combination& c : combinations[axis]) {
        for (auto t = static_cast<size_t>(a.first[o]); t < static_cast<size_t>(a.first[o + 1]); ++t) {
          next.push_back({c.offset + a.index[t] * strides[axis], c.weight * a.weight[t]});
        }
      }
      self(self, axis + 1, outside || a.outside[o] != 0);
    }
  };
  walk(walk, 0, false);
}

}  // namespace

StatusOr<ResizeTarget> ResolveResizeTarget(const Shape& input, std::span<const float> scales,
                                           std::span<const int64_t> sizes, std::span<const float> roi, bool crop) {
  const size_t rank = input.size();
  ResizeTarget target;
  if (!sizes.empty()) {
    if (sizes.size() != rank) {
      return InvalidArgument("sizes has " + std::to_string(sizes.size()) + " entries for an input of rank " +
                             std::to_string(rank));
    }
    for (size_t a = 0; a < rank; ++a) {
      if (sizes[a] <= 0) return InvalidArgument("sizes must be positive, got " + std::to_string(sizes[a]));
      target.output.push_back(sizes[a]);
      target.scales.push_back(static_cast<double>(sizes[a]) / static_cast<double>(input[a]));
      target.lengths.push_back(static_cast<double>(sizes[a]));
    }
    return target;
  }
  if (scales.size() != rank) {
    return InvalidArgument("scales has " + std::to_string(scales.size()) + " entries for an input of rank " +
                           std::to_string(rank) + " (and no sizes are given)");
  }
  if (crop && roi.size() != 2 * rank) return InvalidArgument("tf_crop_and_resize needs roi with 2 entries per axis");
  for (size_t a = 0; a < rank; ++a) {
    if (!(scales[a] > 0.0f)) return InvalidArgument("scales must be positive, got " + std::to_string(scales[a]));
    const float extent = crop ? roi[rank + a] - roi[a] : 1.0f;
    // In float, as onnxruntime does: a float32 scale like 0.7f is the nearest float to the ratio an exporter meant,
    // and 10 · 0.7f rounds back to 7 in float where exact arithmetic would floor 6.99999988 to 6.
    const auto out = static_cast<int64_t>(std::floor(static_cast<float>(input[a]) * extent * scales[a]));
    if (out <= 0)
      return InvalidArgument("scale " + std::to_string(scales[a]) + " leaves axis " + std::to_string(a) + " of " +
                             ShapeToString(input) + " empty");
    target.output.push_back(out);
    target.scales.push_back(scales[a]);
    target.lengths.push_back(static_cast<double>(input[a]) * scales[a]);
  }
  return target;
}

StatusOr<ResizeTaps> BuildResizeTaps(const SamplingParams& params, const Shape& input, const ResizeTarget& target,
                                     std::span<const float> roi) {
  const size_t rank = input.size();
  if (rank == 0) return InvalidArgument("resizing needs an input with at least one axis");
  if (target.output.size() != rank || target.scales.size() != rank || target.lengths.size() != rank) {
    return Internal("resize target of another rank");
  }
  const bool crop = params.transform == CoordinateTransform::kTfCropAndResize;
  if (crop && roi.size() != 2 * rank) return InvalidArgument("tf_crop_and_resize needs roi with 2 entries per axis");
  ResizeTaps taps;
  taps.input = input;
  taps.output = target.output;
  taps.extrapolation_value = params.extrapolation_value;
  for (size_t a = 0; a < rank; ++a) {
    const double start = crop ? roi[a] : 0.0, end = crop ? roi[rank + a] : 1.0;
    taps.axes.push_back(
        MakeAxisTaps(params, input[a], target.output[a], target.scales[a], target.lengths[a], start, end));
  }
  return taps;
}

void ResizeForward(const ResizeTaps& taps, const float* x, float* y) {
  const AxisTaps& last = taps.axes.back();
  const auto width = static_cast<size_t>(taps.output.back());
  std::vector<double> row(width);
  VisitRows(taps, [&](int64_t row_offset, bool outside, const std::vector<Combination>& outer) {
    float* out = y + row_offset;
    if (outside) {
      std::fill(out, out + width, taps.extrapolation_value);
      return;
    }
    std::fill(row.begin(), row.end(), 0.0);
    for (const Combination& c : outer) {
      const float* line = x + c.offset;
      for (size_t o = 0; o < width; ++o) {
        double along = 0.0;
        for (auto t = static_cast<size_t>(last.first[o]); t < static_cast<size_t>(last.first[o + 1]); ++t) {
          along += last.weight[t] * line[last.index[t]];
        }
        row[o] += c.weight * along;
      }
    }
    for (size_t o = 0; o < width; ++o)
      out[o] = last.outside[o] != 0 ? taps.extrapolation_value : static_cast<float>(row[o]);
  });
}

void ResizeBackward(const ResizeTaps& taps, const float* dy, float* dx) {
  const AxisTaps& last = taps.axes.back();
  const auto width = static_cast<size_t>(taps.output.back());
  std::vector<double> sums(static_cast<size_t>(NumElements(taps.input)), 0.0);
  VisitRows(taps, [&](int64_t row_offset, bool outside, const std::vector<Combination>& outer) {
    if (outside) return;  // extrapolated elements are constants
    const float* grad = dy + row_offset;
    for (const Combination& c : outer) {
      double* line = sums.data() + c.offset;
      for (size_t o = 0; o < width; ++o) {
        if (last.outside[o] != 0) continue;
        for (auto t = static_cast<size_t>(last.first[o]); t < static_cast<size_t>(last.first[o + 1]); ++t) {
          line[last.index[t]] += c.weight * last.weight[t] * grad[o];
        }
      }
    }
  });
  std::transform(sums.begin(), sums.end(), dx, [](double v) { return static_cast<float>(v); });
}

std::optional<dnnl::algorithm> OneDnnResamplingFor(const ResizeTaps& taps) {
  const size_t rank = taps.input.size();
  if (rank < kDnnlMinResamplingRank || rank > kDnnlMaxResamplingRank) return std::nullopt;
  for (size_t a = 0; a < kBatchAndChannelAxes; ++a) {
    if (!IsIdentity(taps.axes[a], taps.input[a], taps.output[a])) return std::nullopt;
  }
  for (const auto algorithm : {dnnl::algorithm::resampling_nearest, dnnl::algorithm::resampling_linear}) {
    bool all_match = true;
    for (size_t a = kBatchAndChannelAxes; a < rank && all_match; ++a) {
      const auto expected = OneDnnAxisTaps(algorithm, taps.input[a], taps.output[a]);
      all_match = expected.has_value() && SameTaps(*expected, taps.axes[a]);
    }
    if (all_match) return algorithm;
  }
  return std::nullopt;
}

}  // namespace fovea::engine::ops
