#pragma once
// How an image becomes a model's input beyond size and mean/std: the layout of the input, the order of the colour
// channels and how the image is brought to the input's size. Resolved once per loaded version from the fovea.input.*
// metadata (or the config.pbtxt parameters over it; docs/model-format.md) and applied by the image pipeline.

#include <cstdint>

namespace fovea::server {

enum class ResizeMode {
  kStretch,  // straight to height x width, aspect ratio not kept (Fovea's own models are trained so)
  kCrop,     // shorter side to `shorter_side`, then the centre height x width: torchvision's ImageNet eval transform
};

struct Preprocessing {
  bool nhwc = false;  // the model input is [N, H, W, C] rather than [N, C, H, W]
  bool bgr = false;   // a 3-channel model takes blue, green, red (OpenCV-trained models) rather than red, green, blue
  ResizeMode resize = ResizeMode::kStretch;
  int64_t shorter_side = 0;  // kCrop: the shorter side's length before the crop
};

}  // namespace fovea::server
