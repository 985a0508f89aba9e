#pragma once
// engine values → ONNX: writes a graph description (nodes with typed attributes, initializers, inputs/outputs) and
// `fovea.*` metadata (docs/model-format.md) as an ONNX ModelProto, then runs the ONNX checker on it. The trainer
// uses it to export; nothing else in Fovea besides modelio sees ONNX protobuf.

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "engine/graph.h"
#include "engine/model.h"

namespace onnx {
class ModelProto;
}  // namespace onnx

namespace fovea::modelio {

// One node attribute; the alternative held decides the ONNX attribute type (INT, FLOAT, INTS, FLOATS, STRING).
struct ExportAttribute {
  std::string name;
  std::variant<int64_t, float, std::vector<int64_t>, std::vector<float>, std::string> value;
};

// One ONNX node in the default domain.
struct ExportNode {
  std::string op_type;  // "Conv"
  std::string name;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<ExportAttribute> attributes;
};

// A graph to write. In inputs/outputs, a dimension of -1 is written as the symbolic dimension "N" (dynamic batch).
struct ExportGraph {
  std::string name = "fovea";
  std::vector<engine::ValueInfo> inputs;
  std::vector<engine::ValueInfo> outputs;
  std::map<std::string, engine::Tensor> initializers;
  std::vector<ExportNode> nodes;  // topological order
};

struct ExportOptions {
  int64_t opset = 13;
  std::string producer_name = "fovea";
  std::string producer_version;
  std::string doc_string;
};

// The `fovea.*` metadata entries describing `metadata` (labels one per line, mean/std comma-separated, ...),
// followed by its free-form `properties` (e.g. "fovea.train.seed").
std::vector<std::pair<std::string, std::string>> MetadataEntriesFor(const engine::ModelMetadata& metadata);

// Serializes `graph` and `metadata` as an ONNX model and checks it with onnx::checker (full check, shape inference
// included). Errors name the check that failed.
StatusOr<std::string> ExportOnnx(const ExportGraph& graph, const engine::ModelMetadata& metadata,
                                 const ExportOptions& options = {});

// ExportOnnx, written to `path` (replaced atomically through a temporary file next to it).
Status WriteOnnxFile(const std::string& path, const ExportGraph& graph, const engine::ModelMetadata& metadata,
                     const ExportOptions& options = {});

// Runs onnx::checker and, with `infer_shapes`, strict shape inference on `model` (which inference annotates) and
// serializes it. Errors name the check that failed. Shape inference is for graphs Fovea wrote itself: ONNX 1.12's
// crashes on some malformed graphs that the structural checker accepts (a SEGV in convPoolShapeInference, found by
// classifier_edit_fuzz), so a graph that carries a user's nodes is checked structurally only, as the importer does.
StatusOr<std::string> CheckAndSerialize(onnx::ModelProto& model, bool infer_shapes = true);

// Writes `bytes` to `path` through a temporary file next to it, so readers never see a half-written model.
Status WriteFileAtomically(const std::string& path, const std::string& bytes);

}  // namespace fovea::modelio
