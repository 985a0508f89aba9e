#pragma once
// ONNX → engine import: parse, run the ONNX checker, map each node through the op table (modelio/op_table.h), read
// initializers (raw or typed fields) and the `fovea.*` metadata (docs/model-format.md). The only code besides
// modelio/onnx_export and modelio/onnx_edit that sees ONNX protobuf.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/model.h"

namespace fovea::modelio {

// The opsets of the default ONNX domain that the op table implements; models importing others are rejected. From opset
// 6 on, the ops Fovea supports mean what they mean today, except for a few legacy attributes the factories check
// (Add/Sub/Mul/Div `broadcast` with `axis` before 7, BatchNormalization `spatial` = 0 before 9). Opsets 1 to 5 still
// carry `consumed_inputs` and attribute forms (Reshape's `shape`) that no exporter of this decade writes.
inline constexpr int64_t kMinSupportedOpset = 6;
inline constexpr int64_t kMaxSupportedOpset = 17;

// Hard limits that keep a hostile file from exhausting memory before it is rejected.
struct ImportLimits {
  size_t max_file_bytes = size_t{2} << 30;         // 2 GiB, protobuf's own ceiling
  int64_t max_tensor_elements = int64_t{1} << 31;  // per initializer
  int64_t max_nodes = 100000;
};

// A graph as the file describes it, before inference passes.
struct ImportedModel {
  engine::Graph graph;
  engine::ModelMetadata metadata;
  int64_t opset = 0;  // of the default ("ai.onnx") domain
};

// Metadata entries that replace the file's entries of the same key (or are added): a model's configuration kept beside
// it (the server's config.pbtxt and label file) over what the file says. Checked like the file's own entries.
using MetadataOverrides = std::vector<std::pair<std::string, std::string>>;

// Parses and checks ONNX bytes. Errors name the node, the op and what is supported.
StatusOr<ImportedModel> ImportOnnx(std::string_view bytes, const ImportLimits& limits = {},
                                   const MetadataOverrides& overrides = {});

// Reads, imports and optimizes a model file into a ready-to-serve Model.
StatusOr<std::shared_ptr<const engine::Model>> LoadOnnxModel(const std::string& path,
                                                             const engine::ModelOptions& options = {},
                                                             const ImportLimits& limits = {},
                                                             const MetadataOverrides& overrides = {});

}  // namespace fovea::modelio
