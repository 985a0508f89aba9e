#include "trainer/quantize.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "common/flags.h"
#include "engine/ops/quantize.h"
#include "engine/passes.h"
#include "engine/session.h"
#include "modelio/onnx_export.h"
#include "modelio/onnx_import.h"
#include "modelio/qdq_writer.h"
#include "trainer/dataset_idx.h"
#include "trainer/engine_check.h"
#include "trainer/loss.h"

namespace fovea::trainer {
namespace {

using engine::DataType;
using engine::Tensor;

constexpr float kUint8Levels = 255.0f;
constexpr float kInt8Levels = 127.0f;  // symmetric: -127..127, so the scale is the same both ways

// A Conv to quantize: its node name, BN-folded weights and bias, and the BatchNormalization folded into them.
struct ConvTarget {
  std::string node;
  std::string input;  // the value the Conv reads (calibrated)
  Tensor weights, bias;
  std::string folded_batch_norm;
};

// What calibration saw of a convolution's input: its value range and its channel count.
struct Range {
  float min = std::numeric_limits<float>::max();
  float max = std::numeric_limits<float>::lowest();
  int64_t channels = 0;
};

StatusOr<std::string> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const engine::Node* NodeNamed(const engine::Graph& graph, const std::string& name) {
  for (const auto& node : graph.nodes) {
    if (node.name == name) return &node;
  }
  return nullptr;
}

// The float convolutions the engine can run in int8, with weights as the engine folds them (so BN is inside the int8
// weights).
StatusOr<std::vector<ConvTarget>> FindTargets(const engine::Graph& graph) {
  FOVEA_ASSIGN_OR_RETURN(engine::Graph folded, engine::RemoveNoOps(graph));
  FOVEA_ASSIGN_OR_RETURN(folded, engine::FoldBatchNorm(std::move(folded)));
  std::vector<ConvTarget> targets;
  for (const auto& node : folded.nodes) {
    if (!node.op->Quantizable() || node.inputs.size() < 2) continue;
    auto w = folded.initializers.find(node.inputs[1]);
    if (w == folded.initializers.end() || w->second.rank() != 4) continue;
    ConvTarget target{node.name, node.inputs[0], w->second, Tensor(DataType::kFloat32, {w->second.dim(0)}), {}};
    if (node.inputs.size() > 2 && !node.inputs[2].empty()) target.bias = folded.initializers.at(node.inputs[2]);
    // The original Conv's output went to a BatchNormalization when folding renamed its output to the BN's.
    const engine::Node* original = NodeNamed(graph, node.name);
    if (original == nullptr) return Internal("Conv '" + node.name + "' vanished while folding");
    if (original->outputs[0] != node.outputs[0]) {
      const int bn = graph.ProducerOf(node.outputs[0]);
      if (bn < 0) return Internal("cannot find the BatchNormalization folded into '" + node.name + "'");
      target.folded_batch_norm = graph.nodes[static_cast<size_t>(bn)].name;
    }
    targets.push_back(std::move(target));
  }
  return targets;
}

// Min/max of every target's input over `images` evenly spaced training images, from one engine run per batch with
// the inputs added as graph outputs.
StatusOr<std::vector<Range>> Calibrate(const engine::Graph& graph, const std::vector<ConvTarget>& targets,
                                       const Dataset& train, int64_t images, const Normalization& normalization) {
  engine::Graph probe = graph;
  for (const auto& t : targets) probe.outputs.push_back({t.input, DataType::kFloat32, {}});
  FOVEA_ASSIGN_OR_RETURN(auto model, engine::Model::Create(std::move(probe), {}));
  FOVEA_ASSIGN_OR_RETURN(auto session, engine::Session::Create(model));
  const int64_t count = std::min(images, train.size());
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < count; ++i) indices.push_back(i * train.size() / count);
  std::vector<Range> ranges(targets.size());
  const size_t first = graph.outputs.size();
  FOVEA_RETURN_IF_ERROR(
      ForEachEngineBatch(*session, train, indices, normalization, [&](std::span<const Tensor> outputs, int64_t) {
        for (size_t t = 0; t < targets.size(); ++t) {
          ranges[t].channels = outputs[first + t].rank() > 1 ? outputs[first + t].dim(1) : 1;
          for (float v : outputs[first + t].floats()) {
            ranges[t].min = std::min(ranges[t].min, v);
            ranges[t].max = std::max(ranges[t].max, v);
          }
        }
        return OkStatus();
      }));
  return ranges;
}

// Drops the targets whose input has fewer than `min_input_channels` channels (they stay float32).
void KeepWideInputs(std::vector<ConvTarget>& targets, std::vector<Range>& ranges, int64_t min_input_channels) {
  size_t kept = 0;
  for (size_t t = 0; t < targets.size(); ++t) {
    if (ranges[t].channels < min_input_channels) continue;
    if (kept != t) {
      targets[kept] = std::move(targets[t]);
      ranges[kept] = ranges[t];
    }
    ++kept;
  }
  targets.resize(kept);
  ranges.resize(kept);
}

// Symmetric per-output-channel int8 weights.
modelio::QdqConv QuantizeWeights(const ConvTarget& target) {
  modelio::QdqConv conv;
  conv.node = target.node;
  conv.bias = target.bias;
  conv.folded_batch_norm = target.folded_batch_norm;
  const Tensor& w = target.weights;
  const int64_t m = w.dim(0), per_channel = w.num_elements() / m;
  conv.weights = Tensor(DataType::kInt8, w.shape());
  for (int64_t c = 0; c < m; ++c) {
    const float* row = w.data<float>() + c * per_channel;
    float largest = 0.0f;
    for (int64_t k = 0; k < per_channel; ++k) largest = std::max(largest, std::fabs(row[k]));
    const float scale = largest > 0.0f ? largest / kInt8Levels : 1.0f;
    conv.weight_scales.push_back(scale);
    for (int64_t k = 0; k < per_channel; ++k) {
      conv.weights.data<int8_t>()[c * per_channel + k] =
          static_cast<int8_t>(engine::ops::QuantizeValue(row[k], scale, 0, DataType::kInt8));
    }
  }
  return conv;
}

// uint8 over [0, max] when the calibrated input never goes negative, else symmetric int8.
void SetInputScale(modelio::QdqConv& conv, const Range& range) {
  const bool non_negative = range.min >= 0.0f;
  const float extent = non_negative ? range.max : std::max(std::fabs(range.min), std::fabs(range.max));
  conv.input_type = non_negative ? DataType::kUint8 : DataType::kInt8;
  const float levels = non_negative ? kUint8Levels : kInt8Levels;
  conv.input_scale = extent > 0.0f ? extent / levels : 1.0f;
}

StatusOr<double> Accuracy(const std::string& onnx_bytes, const Dataset& test, const Normalization& normalization,
                          std::vector<float>& probabilities) {
  FOVEA_ASSIGN_OR_RETURN(auto imported, modelio::ImportOnnx(onnx_bytes));
  FOVEA_ASSIGN_OR_RETURN(auto model, engine::Model::Create(std::move(imported.graph), imported.metadata));
  FOVEA_ASSIGN_OR_RETURN(auto session, engine::Session::Create(model));
  FOVEA_ASSIGN_OR_RETURN(probabilities, ClassifyWithEngine(*session, test, normalization));
  const auto classes = static_cast<size_t>(test.num_classes());
  int64_t correct = 0;
  for (int64_t i = 0; i < test.size(); ++i) {
    const std::span<const float> row(probabilities.data() + static_cast<size_t>(i) * classes, classes);
    if (ArgMax(row) == test.labels[static_cast<size_t>(i)]) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

// Fills the report's accuracy fields from float and int8 runs over `test`.
Status CompareOnTest(const std::string& float_bytes, const std::string& int8_bytes, const Dataset& test,
                     const Normalization& normalization, QuantizeReport& report) {
  std::vector<float> float_probabilities, int8_probabilities;
  FOVEA_ASSIGN_OR_RETURN(report.float_accuracy, Accuracy(float_bytes, test, normalization, float_probabilities));
  FOVEA_ASSIGN_OR_RETURN(report.int8_accuracy, Accuracy(int8_bytes, test, normalization, int8_probabilities));
  report.test_images = test.size();
  const auto classes = static_cast<size_t>(test.num_classes());
  for (size_t i = 0; i < static_cast<size_t>(test.size()); ++i) {
    const std::span<const float> a(float_probabilities.data() + i * classes, classes);
    const std::span<const float> b(int8_probabilities.data() + i * classes, classes);
    if (ArgMax(a) == ArgMax(b)) ++report.same_top1;
    for (size_t k = 0; k < classes; ++k) {
      report.max_probability_difference =
          std::max(report.max_probability_difference, static_cast<double>(std::fabs(a[k] - b[k])));
    }
  }
  return OkStatus();
}

Normalization NormalizationOf(const engine::ModelMetadata& metadata) {
  Normalization n;
  if (!metadata.mean.empty()) n.mean = metadata.mean;
  if (!metadata.std.empty()) n.std = metadata.std;
  return n;
}

std::string LayerSummary(const QuantizeReport& report) {
  std::string text;
  for (const auto& layer : report.layers) {
    text +=
        fmt::format("{}: {} scale {:.6g} (calibrated {:.4g}..{:.4g}); ", layer.node, layer.unsigned_input ? "u8" : "s8",
                    layer.input_scale, layer.calibrated_min, layer.calibrated_max);
  }
  return text;
}

Status WriteModelCard(const QuantizeOptions& options, const QuantizeReport& report) {
  std::ofstream card(options.output_dir + "/MODEL.md", std::ios::trunc);
  card << "# " << std::filesystem::path(options.output_dir).parent_path().filename().string()
       << " — int8 (post-training quantization)\n\n"
       << "Quantized from `" << options.model_path << "` by\n\n    " << options.command << "\n\n"
       << "- Weights: int8, symmetric, one scale per output channel (BatchNormalization folded in first).\n"
       << "- Activations: one scale per tensor from min/max over " << report.calibration_images
       << " evenly spaced training images; uint8 where the calibrated minimum is ≥ 0.\n"
       << "- Stored as ONNX QuantizeLinear/DequantizeLinear (QDQ) around each quantized Conv; Fovea fuses each into an "
          "int8 oneDNN convolution. "
       << (options.min_input_channels > 1
               ? fmt::format("Convolutions with fewer than {} input channels stay float32, as do ",
                             options.min_input_channels)
               : std::string("Every convolution is int8; "))
       << "the classifier and global pooling stay float32.\n\n"
       << "| | float32 | int8 |\n| --- | --- | --- |\n"
       << fmt::format("| test accuracy ({} images) | {:.2f}% | {:.2f}% |\n", report.test_images,
                      100.0 * report.float_accuracy, 100.0 * report.int8_accuracy)
       << fmt::format("\nSame top-1 class as float32 on {}/{} test images; largest probability difference {:.3f}.\n",
                      report.same_top1, report.test_images, report.max_probability_difference)
       << "\nQuantized layers (input scale per tensor):\n\n";
  for (const auto& layer : report.layers) {
    card << fmt::format("- `{}`: {} scale {:.6g}, calibrated input range [{:.4g}, {:.4g}]\n", layer.node,
                        layer.unsigned_input ? "uint8" : "int8", layer.input_scale, layer.calibrated_min,
                        layer.calibrated_max);
  }
  if (!card) return Internal(options.output_dir + "/MODEL.md: cannot write");
  return OkStatus();
}

}  // namespace

StatusOr<QuantizeReport> QuantizeModel(const QuantizeOptions& options) {
  FOVEA_ASSIGN_OR_RETURN(const std::string float_bytes, ReadBytes(options.model_path));
  FOVEA_ASSIGN_OR_RETURN(auto imported, modelio::ImportOnnx(float_bytes));
  const Normalization normalization = NormalizationOf(imported.metadata);
  FOVEA_ASSIGN_OR_RETURN(auto targets, FindTargets(imported.graph));
  if (targets.empty()) return FailedPrecondition(options.model_path + ": no convolution to quantize");
  FOVEA_ASSIGN_OR_RETURN(Dataset train, LoadFashionMnist(options.data_dir, "train"));
  FOVEA_ASSIGN_OR_RETURN(Dataset test, LoadFashionMnist(options.data_dir, "t10k"));
  test = LimitPerClass(test, options.test_limit_per_class);
  FOVEA_ASSIGN_OR_RETURN(auto ranges,
                         Calibrate(imported.graph, targets, train, options.calibration_images, normalization));
  KeepWideInputs(targets, ranges, options.min_input_channels);
  if (targets.empty()) {
    return FailedPrecondition(options.model_path + ": no convolution has " +
                              std::to_string(options.min_input_channels) +
                              " input channels or more (--min-input-channels)");
  }

  QuantizeReport report;
  report.calibration_images = std::min(options.calibration_images, train.size());
  std::vector<modelio::QdqConv> convs;
  for (size_t t = 0; t < targets.size(); ++t) {
    modelio::QdqConv conv = QuantizeWeights(targets[t]);
    SetInputScale(conv, ranges[t]);
    report.layers.push_back(
        {conv.node, conv.input_type == DataType::kUint8, conv.input_scale, ranges[t].min, ranges[t].max});
    convs.push_back(std::move(conv));
  }
  const std::vector<std::pair<std::string, std::string>> metadata = {
      {"fovea.quantization",
       fmt::format("int8 post-training: per-channel symmetric weights, per-tensor activations (min/max over {} "
                   "training images)",
                   report.calibration_images)},
      {"fovea.quantization.layers", LayerSummary(report)},
      {"fovea.quantization.command", options.command}};
  FOVEA_ASSIGN_OR_RETURN(const std::string int8_bytes, modelio::WriteQdqModel(float_bytes, convs, metadata));
  FOVEA_RETURN_IF_ERROR(CompareOnTest(float_bytes, int8_bytes, test, normalization, report));
  spdlog::info(
      "test accuracy on {} images: float32 {:.2f}%, int8 {:.2f}%; same top-1 on {}; max probability "
      "difference {:.3f}",
      report.test_images, 100.0 * report.float_accuracy, 100.0 * report.int8_accuracy, report.same_top1,
      report.max_probability_difference);
  if (report.float_accuracy - report.int8_accuracy > options.max_accuracy_drop) {
    return FailedPrecondition(
        fmt::format("int8 accuracy {:.2f}% is more than {:.2f} points below float32 {:.2f}%; "
                    "nothing written",
                    100.0 * report.int8_accuracy, 100.0 * options.max_accuracy_drop, 100.0 * report.float_accuracy));
  }
  std::filesystem::create_directories(options.output_dir);
  report.model_path = options.output_dir + "/model.onnx";
  FOVEA_RETURN_IF_ERROR(modelio::WriteFileAtomically(report.model_path, int8_bytes));
  FOVEA_RETURN_IF_ERROR(WriteModelCard(options, report));
  return report;
}

namespace {

constexpr int64_t kMaxImages = 1'000'000'000;
constexpr int64_t kMaxChannels = 65536;
constexpr double kPercent = 100.0;

// The flag table of `fovea-train quantize`, bound to `o` (which must outlive it).
FlagSet QuantizeFlags(QuantizeOptions& o) {
  FlagSet flags(
      {.usage = "fovea-train quantize --model FLOAT.onnx --output DIR [FLAGS]",
       .description =
           "Post-training int8 quantization: calibrates activation scales on training images, quantizes the "
           "convolutions' weights per output channel, checks accuracy on the test set and writes DIR/model.onnx "
           "(ONNX QDQ) and DIR/MODEL.md. Use a new version folder of the model (e.g. models/fashion-mnist/2) so "
           "the server picks it up as a new version.",
       .see_help = "fovea-train quantize --help"});
  flags.Add(TextFlag("model", &o.model_path, "PATH", "The float32 model to quantize (required)."));
  flags.Add(TextFlag("output", &o.output_dir, "DIR", "Where model.onnx and MODEL.md go (required)."));
  flags.Add(TextFlag("data", &o.data_dir, "DIR", "Fashion-MNIST IDX files."));
  flags.Add(IntegerFlag("calibration-images", &o.calibration_images, 1, kMaxImages, "N",
                        "Training images for the activation ranges."));
  flags.Add(IntegerFlag("test-limit-per-class", &o.test_limit_per_class, 0, kMaxImages, "N",
                        "Test images per class for the accuracy check; 0 = all 10,000."));
  flags.Add(IntegerFlag("min-input-channels", &o.min_input_channels, 0, kMaxChannels, "N",
                        "Convolutions with fewer input channels stay float32 (1: all int8)."));
  flags.Add(CustomFlag("max-accuracy-drop", "P", "Refuse to write when int8 is more than P points below float32.",
                       [&o](const std::string& v) -> Status {
                         FOVEA_ASSIGN_OR_RETURN(const double points, ParseNumber(v, -kPercent, kPercent));
                         o.max_accuracy_drop = points / kPercent;
                         return OkStatus();
                       })
                .Default(NumberText(o.max_accuracy_drop * kPercent)));
  return flags;
}

}  // namespace

StatusOr<QuantizeOptions> ParseQuantizeCommandLine(const std::vector<std::string>& args) {
  QuantizeOptions o;
  o.command = "fovea-train quantize";
  for (const auto& a : args) o.command += " " + a;
  FOVEA_ASSIGN_OR_RETURN(const ParsedArgs parsed, QuantizeFlags(o).Parse(args));
  o.help = parsed.help;
  if (!o.help && (o.model_path.empty() || o.output_dir.empty())) {
    return InvalidArgument("--model and --output are required");
  }
  return o;
}

std::string QuantizeHelpText() {
  QuantizeOptions defaults;
  return QuantizeFlags(defaults).Help();
}

}  // namespace fovea::trainer
