#pragma once
// Model: an immutable, optimized graph plus what a server needs to know about it (labels, input spec,
// normalization). Shared between requests as std::shared_ptr<const Model>.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace fovea::engine {

// What the model file says about its use, from the `fovea.*` metadata keys (docs/model-format.md). Every field has
// a default so that a plain ONNX file without our keys still serves as tensor-in/tensor-out.
struct ModelMetadata {
  std::vector<std::string> labels;  // class names by output index; empty = use indices
  std::string input_layout = "NCHW";
  int64_t input_channels = 0;  // 0 = unknown (taken from the graph input shape)
  int64_t input_height = 0;
  int64_t input_width = 0;
  std::vector<float> mean;  // per channel, applied to pixels scaled to [0, 1]: (x - mean) / std
  std::vector<float> std;
  int64_t background_class = -1;                  // index of the "nothing here" class, if trained with one
  std::map<std::string, std::string> properties;  // every metadata_props entry, verbatim
};

// The arithmetic convolutions and inner products compute in. Graph inputs and outputs stay float32 either way.
enum class Precision {
  kFp32,  // everything in float32
  kBf16,  // Conv/Gemm/MatMul read bf16 activations and weights and accumulate in float32 (AVX512-BF16: about 2x)
};

// "fp32" / "bf16", as config files and flags spell them.
const char* PrecisionName(Precision precision);
// Parses "fp32" or "bf16"; InvalidArgument naming the accepted values otherwise.
StatusOr<Precision> ParsePrecision(const std::string& text);

struct ModelOptions {
  bool optimize = true;  // run the inference graph passes (BN folding, post-op fusion, no-op removal)
  // Float arithmetic of the float (non-quantized) layers. A model with QuantizeLinear/DequantizeLinear around its
  // convolutions runs those as int8 whatever this says (see FuseQuantizedConvs in engine/passes.h).
  Precision precision = Precision::kFp32;
};

class Model {
 public:
  static StatusOr<std::shared_ptr<const Model>> Create(Graph graph, ModelMetadata metadata, ModelOptions options = {});

  const Graph& graph() const { return graph_; }
  const ModelMetadata& metadata() const { return metadata_; }
  Precision precision() const { return precision_; }
  // True when the graph holds quantized ops (QuantizeLinear/DequantizeLinear, or the int8 convolutions they fused
  // into).
  bool quantized() const { return quantized_; }

  // Label of class `index`: the metadata label or the index as text.
  std::string Label(int64_t index) const;

  // True when graph output `output` comes straight out of a Softmax or a Sigmoid in the graph as loaded: its values
  // are already probabilities. Decided before the passes run, since they may fuse a final Sigmoid into the Gemm.
  bool OutputIsProbability(size_t output) const {
    return output < probability_outputs_.size() && probability_outputs_[output];
  }

 private:
  Model(Graph graph, ModelMetadata metadata, Precision precision, std::vector<bool> probability_outputs);
  Graph graph_;
  ModelMetadata metadata_;
  Precision precision_;
  bool quantized_ = false;
  std::vector<bool> probability_outputs_;
};

}  // namespace fovea::engine
