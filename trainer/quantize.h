#pragma once
// `fovea-train quantize`: post-training int8 quantization of a float ONNX classifier.
//
// Weights: symmetric int8 per output channel (scale = max|w_c| / 127) after folding BatchNormalization into them.
// Activations: one scale per tensor from calibration on training images — min/max: uint8 (scale = max / 255) when the
// calibrated minimum is ≥ 0 (convolution inputs after ReLU/max-pool), else symmetric int8. Min/max, not a percentile,
// because these inputs are bounded post-BN ReLU outputs whose largest values are real signal, not outliers; the
// accuracy gate below is the check. Every Conv is quantized by default, the first one included: its input is an 8-bit
// image scaled to [0, 1], which uint8 with scale max / 255 represents exactly, and an int8 first layer writes uint8 for
// the next one directly instead of a float32 map that a separate reorder must quantize (measured faster, and as
// accurate, on the bundled model). `min_input_channels` keeps convolutions with fewer input channels in float32 (for
// inputs that 8 bits would not represent). Pooling and the classifier stay float32 (max pooling runs on the uint8
// values between int8 convolutions).
//
// The result is written in ONNX QDQ form (modelio/qdq_writer.h) only when its test accuracy is within
// `max_accuracy_drop` of the float model's, with a model card (MODEL.md) next to it.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace fovea::trainer {

struct QuantizeOptions {
  std::string model_path;  // the float model
  std::string output_dir;  // a new model version folder: model.onnx and MODEL.md are written there
  std::string data_dir = "/usr/share/datasets/fashion-mnist";  // IDX files: calibration (train) and test (t10k)
  int64_t calibration_images = 2000;                           // evenly spaced over the training set
  int64_t test_limit_per_class = 0;  // test images per class for the accuracy gate (0 = all 10,000)
  int64_t min_input_channels = 1;    // convolutions with fewer input channels stay float32
  double max_accuracy_drop = 0.003;  // fraction (0.003 = 0.3 points)
  std::string command;               // as typed, for the model card and metadata
  bool help = false;                 // --help was given: print QuantizeHelpText() instead
};

// One quantized convolution, for the report.
struct QuantizedLayer {
  std::string node;
  bool unsigned_input = true;
  float input_scale = 0.0f;
  float calibrated_min = 0.0f, calibrated_max = 0.0f;
};

struct QuantizeReport {
  std::vector<QuantizedLayer> layers;
  int64_t calibration_images = 0;
  int64_t test_images = 0;
  double float_accuracy = 0.0;
  double int8_accuracy = 0.0;
  int64_t same_top1 = 0;                    // test images where int8 and float agree on the top class
  double max_probability_difference = 0.0;  // over all test images and classes
  std::string model_path;                   // what was written
};

// Quantizes, evaluates and (when within the accuracy bound) writes the model. FailedPrecondition when the accuracy
// drop exceeds the bound (nothing is written then).
StatusOr<QuantizeReport> QuantizeModel(const QuantizeOptions& options);

// Parses `fovea-train quantize` arguments (after the subcommand). InvalidArgument names a bad or unknown flag.
StatusOr<QuantizeOptions> ParseQuantizeCommandLine(const std::vector<std::string>& args);
// The --help text, generated from the same flag table.
std::string QuantizeHelpText();

}  // namespace fovea::trainer
