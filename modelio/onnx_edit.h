#pragma once
// Edits of an existing ONNX model that keep everything else in it byte for byte: fine-tuning replaces a classifier's
// final fully connected layer and writes the rest of the source model unchanged (trainer/finetune.h).

#include <string>
#include <string_view>
#include <vector>

#include "engine/tensor.h"
#include "modelio/metadata.h"

namespace fovea::modelio {

// A new final layer: the nodes writing `removed_outputs` (the old layer: a Gemm, or a MatMul and its Add) are
// dropped, and one Gemm(features, weight, bias, transB = 1) writing `logits` takes their place, right after the node
// that computes `features`. Initializers no node reads any more are dropped. The graph outputs named in
// `class_outputs` get `weight`'s row count as their class dimension (dimension 1).
struct ClassifierReplacement {
  std::string features;                      // the value the new layer reads, [N, F]
  std::string logits;                        // the value it writes (kept by its readers, e.g. a Softmax)
  std::vector<std::string> removed_outputs;  // every output of the replaced nodes
  std::vector<std::string> class_outputs;
  engine::Tensor weight;                             // [K, F], float32
  engine::Tensor bias;                               // [K], float32
  std::string name_prefix = "finetuned_classifier";  // of the new node and its initializers
};

// Applies `replacement` to the ONNX model `source`, replaces its metadata_props with `metadata`, and checks the result
// with the ONNX checker (structure only: the source's own nodes are not shape-inferred, see CheckAndSerialize) and
// serializes it. Errors name the value or node that does not fit.
StatusOr<std::string> ReplaceClassifier(std::string_view source, const ClassifierReplacement& replacement,
                                        const MetadataEntries& metadata, const std::string& producer_name);

}  // namespace fovea::modelio
