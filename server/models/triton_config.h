#pragma once
// Triton's model configuration, `<repository>/<model>/config.pbtxt`: Triton's ModelConfig in protobuf text format
// (proto/inference/model_config.proto), read with protobuf's own text parser. This file knows the format alone and
// what Fovea makes of each field; it depends on nothing but the generated proto, so the fuzz target links it by itself.
// Reading the files of a model folder is server/models/model_config.h.
//
// What Fovea honours is listed in docs/server.md ("Model configuration"). A field Fovea does not implement is never
// dropped silently: fields outside proto/inference/model_config.proto are parsed past and reported by the parser, and
// fields inside it that Fovea ignores are listed by NotImplementedFields; the server logs both once by name.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "inference/model_config.pb.h"

namespace fovea::server {

// The file name Triton looks for in each model folder.
inline constexpr char kTritonConfigFileName[] = "config.pbtxt";
// Triton's platform and backend names for ONNX models; the only ones Fovea serves.
inline constexpr char kOnnxPlatform[] = "onnxruntime_onnx";
inline constexpr char kOnnxBackend[] = "onnxruntime";

// Fovea's own settings in `parameters { key: ... value: { string_value: ... } }`.
inline constexpr char kMeanParameter[] = "mean";                              // "0.485,0.456,0.406"
inline constexpr char kStdParameter[] = "std";                                // "0.229,0.224,0.225"
inline constexpr char kChannelOrderParameter[] = "channel_order";             // RGB | BGR
inline constexpr char kResizeModeParameter[] = "resize_mode";                 // stretch | crop
inline constexpr char kResizeShorterSideParameter[] = "resize_shorter_side";  // pixels, crop mode
inline constexpr char kPrecisionParameter[] = "precision";                    // fp32 | bf16
inline constexpr char kScoresParameter[] = "scores";                          // softmax | sigmoid | none
inline constexpr char kComputeThreadsParameter[] = "compute_threads";         // oneDNN threads per instance

// A config.pbtxt as parsed, with every field Fovea does not implement named (once each, in file order), e.g.
// "optimization (line 12)" or "input[0].reshape".
struct ParsedTritonConfig {
  inference::ModelConfig config;
  std::vector<std::string> not_implemented;
};

// Parses `text` (the content of `source`, named in errors). A syntax error is INVALID_ARGUMENT
// "<source>:<line>:<column>: <what>" (1-based). Fields unknown to Fovea's proto subset are skipped and recorded.
StatusOr<ParsedTritonConfig> ParseTritonConfig(std::string_view text, const std::string& source);

// Parses `text`, a ModelConfig in protobuf's JSON form (what Triton's RepositoryModelLoad takes as its "config"
// parameter and its ModelConfig answers over REST), named `source` in errors. Not JSON, not an object or a value of
// the wrong type is INVALID_ARGUMENT; fields unknown to Fovea's proto subset are skipped and recorded by their path.
StatusOr<ParsedTritonConfig> ParseTritonConfigJson(std::string_view text, const std::string& source);

// Fields of Fovea's proto subset that `config` sets and Fovea ignores (reshape, is_shape_tensor, priority levels,
// GPUs, metric tags, ...), and parameters that are not Fovea's.
std::vector<std::string> NotImplementedFields(const inference::ModelConfig& config);

// Checks `config` on its own: `name` equal to `folder_name` (or empty), an ONNX platform/backend, a version policy,
// batching values and Fovea's parameters that make sense. INVALID_ARGUMENT naming the field and the value otherwise.
Status ValidateTritonConfig(const inference::ModelConfig& config, const std::string& folder_name);

// One graph input or output as the loaded model has it: dims with the batch first (-1 for a free dimension).
struct TensorSignature {
  std::string name;
  inference::DataType data_type = inference::TYPE_FP32;
  std::vector<int64_t> dims;
};

// Checks every input and output `config` lists against the model: the name exists, the data type (when set) and the
// dims (when set; without the batch when max_batch_size > 0) agree, -1 matching anything. INVALID_ARGUMENT naming the
// tensor, the configured and the actual dims.
Status CheckConfigAgainstModel(const inference::ModelConfig& config, const std::vector<TensorSignature>& inputs,
                               const std::vector<TensorSignature>& outputs);

// "[1, 3, 224, 224]".
std::string DimsText(const std::vector<int64_t>& dims);

}  // namespace fovea::server
