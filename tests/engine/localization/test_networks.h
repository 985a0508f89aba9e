#pragma once
// Small CNNs for localization tests, built layer by layer with seeded random weights.

#include <cstdint>
#include <string>

#include "engine/graph.h"

namespace fovea::engine::testing {

// Appends layers to a graph whose input "image" is [-1, channels, height, width]; every layer reads the previous
// layer's output. Weights are uniform in ±1/sqrt(fan_in) so activations stay of order one.
class NetBuilder {
 public:
  NetBuilder(int64_t channels, int64_t height, int64_t width);

  NetBuilder& Conv(int64_t out_channels, int64_t kernel, int64_t pad, bool relu = true);
  NetBuilder& MaxPool(int64_t size);  // kernel = stride = size
  NetBuilder& GlobalAveragePool();
  NetBuilder& Flatten();
  NetBuilder& Gemm(int64_t outputs);
  NetBuilder& Relu();
  NetBuilder& Softmax();
  // The branchy blocks Grad-CAM must differentiate through; each keeps the height and width.
  // x → conv 3×3 → ReLU → conv 3×3 → + x → ReLU (a ResNet basic block; channels unchanged).
  NetBuilder& Residual();
  // Concat of a 1×1 conv branch (`a` channels), a 3×3 conv branch (`b` channels) and a 3×3 max-pool branch (stride 1),
  // as an Inception block.
  NetBuilder& Inception(int64_t a, int64_t b);
  // Concat of an unpadded 3×3 conv branch (`a` channels) and an unpadded 1×1 → 3×3 conv branch (`b` channels): an
  // Inception block whose windows see no padding; height and width shrink by 2.
  NetBuilder& UnpaddedInception(int64_t a, int64_t b);
  // sigmoid(conv 1×1(ReLU(conv 1×1(GAP(x))))) · x with `reduced` inner channels (squeeze-excitation, the scale as
  // Mul's first operand as torchvision exports it).
  NetBuilder& SqueezeExcite(int64_t reduced);
  NetBuilder& Silu();  // x · sigmoid(x), as torch.onnx writes SiLU
  NetBuilder& HardSwish();

  // The graph with the last layer's output as its output.
  Graph Build() const;
  const std::string& last() const { return last_; }

 private:
  std::string Next(const std::string& kind);
  uint32_t NextSeed() { return seed_++; }

  Graph graph_;
  std::string last_ = "image";
  int64_t channels_;
  int64_t features_ = 0;  // Gemm input width after Flatten, tracked for weight shapes
  int64_t height_, width_;
  uint32_t seed_ = 7;
  int layers_ = 0;
};

}  // namespace fovea::engine::testing
