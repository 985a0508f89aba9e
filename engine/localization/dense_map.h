#pragma once
// Dense sliding-window class-probability maps: the model's answer for every input-sized window of a larger image,
// computed by the fully-convolutional form of the model (fully_convolutional.h).
//
// Mapping: map cell (row, col) at stride s is the window whose top-left pixel is (col * s, row * s) and whose size is
// the model input (window_width x window_height); its centre is (col * s + window_width / 2, row * s +
// window_height / 2). A map at the natural stride (the product of the trunk's strides) takes one pass; a stride that
// divides it takes (natural / s)^2 passes over the image shifted by multiples of s, interleaved; a multiple of it
// subsamples the natural map.
//
// Threading: Compute() may be called from many threads at once (engine/session.h).

#include <memory>
#include <vector>

#include "engine/localization/head.h"
#include "engine/localization/map_geometry.h"
#include "engine/model.h"
#include "engine/session.h"

namespace fovea::engine::localization {

// Per-class maps and where their cells lie.
struct ClassMaps {
  Tensor values;  // [classes, rows, cols]
  MapGeometry geometry;
};

// How many pixels beyond its window, on each side, a dense cell's value depends on (a trunk's padding and its
// receptive field reach past the window). A crop of the image, starting at a multiple of the natural stride, gives
// exactly the whole image's values for every cell whose window plus this context lies inside the crop, or reaches the
// image's own edge: what stitching tiles of a huge image needs.
struct DenseContext {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
};

class DenseMapper {
 public:
  // FAILED_PRECONDITION when the model's head cannot become convolutions (the message names the node).
  static StatusOr<std::unique_ptr<DenseMapper>> Create(const Model& model);

  int64_t natural_stride() const { return natural_stride_; }
  int64_t window_width() const { return window_width_; }
  int64_t window_height() const { return window_height_; }
  const DenseContext& context() const { return context_; }
  const Graph& graph() const { return session_->model().graph(); }

  // The stride a request asks for: 0 means natural; a divisor or multiple of the natural stride is used as is;
  // anything else (negative included) is INVALID_ARGUMENT naming the valid choices.
  StatusOr<int64_t> ResolveStride(int64_t requested) const;

  // Probabilities of every class for every window of `image` ([1, C, H, W], normalized like the model's input, any
  // size at least the window) at `stride` (resolved). INVALID_ARGUMENT when the image is smaller than the window.
  StatusOr<ClassMaps> Compute(const Tensor& image, int64_t stride) const;

 private:
  DenseMapper() = default;
  StatusOr<Tensor> RunShifted(const Tensor& image, int64_t dy, int64_t dx) const;

  std::unique_ptr<Session> session_;  // over the fully-convolutional model
  int64_t natural_stride_ = 1;
  int64_t window_width_ = 0;
  int64_t window_height_ = 0;
  int64_t channels_ = 0;
  DenseContext context_;
};

// The model's input as [channels, height, width]: the fovea.input.* metadata, else the graph input's fixed dims.
StatusOr<Shape> ModelInputShape(const Model& model);

// The shapes at the model's input size of the head's dense input and chain values (one plan compilation, no run).
StatusOr<std::map<std::string, Shape>> HeadShapes(const Model& model, const ClassifierHead& head);

}  // namespace fovea::engine::localization
