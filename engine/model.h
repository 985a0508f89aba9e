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

struct ModelOptions {
  bool optimize = true;  // run the inference graph passes (BN folding, post-op fusion, no-op removal)
};

class Model {
 public:
  static StatusOr<std::shared_ptr<const Model>> Create(Graph graph, ModelMetadata metadata, ModelOptions options = {});

  const Graph& graph() const { return graph_; }
  const ModelMetadata& metadata() const { return metadata_; }

  // Label of class `index`: the metadata label or the index as text.
  std::string Label(int64_t index) const;

 private:
  Model(Graph graph, ModelMetadata metadata) : graph_(std::move(graph)), metadata_(std::move(metadata)) {}
  Graph graph_;
  ModelMetadata metadata_;
};

}  // namespace fovea::engine
