#pragma once
// Trainer network → ONNX graph description (modelio/onnx_export writes and checks it). BatchNorm is exported as
// BatchNormalization nodes with the running statistics (the engine folds them into the convolutions); the graph ends
// in Softmax, so the output is class probabilities.

#include <string>

#include "engine/model.h"
#include "modelio/onnx_export.h"
#include "trainer/network.h"

namespace fovea::trainer {

// Names of the exported graph's input and output.
inline constexpr char kInputName[] = "input";
inline constexpr char kOutputName[] = "probabilities";

// The network with its current parameters as an ONNX graph with a dynamic batch dimension.
StatusOr<modelio::ExportGraph> BuildExportGraph(const Network& network);

// Writes the network and `metadata` to `path` as a checked ONNX (opset 13) file.
Status ExportNetwork(const Network& network, const engine::ModelMetadata& metadata, const std::string& path);

}  // namespace fovea::trainer
