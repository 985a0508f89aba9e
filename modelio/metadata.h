#pragma once
// The `fovea.*` keys of an ONNX model's metadata_props → engine::ModelMetadata. Every key and its format is documented
// in docs/model-format.md; this file is the parser and the validator for them.

#include <string>
#include <utility>
#include <vector>

#include "engine/graph.h"
#include "engine/model.h"

namespace fovea::modelio {

// Metadata keys, as written by the trainer and read by the importer.
inline constexpr char kLabelsKey[] = "fovea.labels";
inline constexpr char kInputLayoutKey[] = "fovea.input.layout";
inline constexpr char kInputChannelsKey[] = "fovea.input.channels";
inline constexpr char kInputHeightKey[] = "fovea.input.height";
inline constexpr char kInputWidthKey[] = "fovea.input.width";
inline constexpr char kInputMeanKey[] = "fovea.input.mean";
inline constexpr char kInputStdKey[] = "fovea.input.std";
// Preprocessing of foreign image models, interpreted by the server (server/models/model_repository.cc).
inline constexpr char kInputChannelOrderKey[] = "fovea.input.channel_order";             // RGB | BGR
inline constexpr char kInputResizeModeKey[] = "fovea.input.resize_mode";                 // stretch | crop
inline constexpr char kInputResizeShorterSideKey[] = "fovea.input.resize_shorter_side";  // pixels
inline constexpr char kBackgroundClassKey[] = "fovea.background_class";
inline constexpr char kTrainPrefix[] = "fovea.train.";

using MetadataEntries = std::vector<std::pair<std::string, std::string>>;

// Parses `entries` (metadata_props in file order). `image_input` is the model's first runtime input; its static
// dims are the defaults for the input size and channels, and metadata that contradicts them is an error.
// `class_output` is the first graph output; when it is [N, K] with a static K, K must equal the number of labels.
// Either may be null.
// All entries are also copied verbatim into ModelMetadata::properties. A key repeated with a different value,
// malformed numbers and unknown `fovea.input.*` keys are InvalidArgument errors naming the key.
StatusOr<engine::ModelMetadata> ParseMetadata(const MetadataEntries& entries, const engine::ValueInfo* image_input,
                                              const engine::ValueInfo* class_output);

// Splits the `fovea.labels` value: one label per line, '\n' separated, an optional '\r' before it dropped, one
// trailing newline allowed. Empty labels are an error.
StatusOr<std::vector<std::string>> ParseLabels(const std::string& text);

// Parses comma-separated floats ("0.485, 0.456, 0.406"); whitespace around each number is allowed.
StatusOr<std::vector<float>> ParseFloatList(const std::string& text, const std::string& key);

}  // namespace fovea::modelio
