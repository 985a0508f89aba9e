#pragma once
// Per-model serving settings: the optional file `<repository>/<model name>/config.txt`, which overrides the server's
// batching flags for every version of that model.
//
// Format: one `key = value` per line; blank lines and lines starting with '#' are ignored; keys are
//   max_batch_size      images per engine run (1..65536)
//   max_queue_delay_us  longest the oldest queued request waits for more (0..10000000)
//   max_queue_size      requests that may wait; more are refused with RESOURCE_EXHAUSTED (1..1048576)
//   instances           threads running this model's batches in parallel (1..64)
//   compute_threads     oneDNN threads of each instance (1..1024)
//   precision           fp32 or bf16: how the model's float convolutions compute (overrides --precision; read when
//                       a version is loaded, so a change applies to versions loaded afterwards)
// A plain key = value file needs no parser dependency, and every setting is a single word; an unknown key or a bad
// value is an error naming the file, the line and the valid range, so a typo never silently keeps a default.

#include <filesystem>
#include <string>

#include "common/status.h"
#include "engine/model.h"
#include "server/models/batcher.h"

namespace fovea::server {

// The file name looked for in each model folder.
inline constexpr char kModelConfigFileName[] = "config.txt";

// Applies the settings in `text` (the content of `source`, named in errors) over `options`.
Status ParseModelConfig(const std::string& text, const std::string& source, BatchingOptions& options);

// `defaults` overridden by `<model_folder>/config.txt` when that file exists. INVALID_ARGUMENT naming the file and
// line for a bad file; a missing file is not an error.
StatusOr<BatchingOptions> LoadModelConfig(const std::filesystem::path& model_folder, const BatchingOptions& defaults);

// The `precision` of `<model_folder>/config.txt`, or `fallback` when the file or the key is absent. INVALID_ARGUMENT
// naming the file and line for a bad file.
StatusOr<engine::Precision> LoadModelPrecision(const std::filesystem::path& model_folder, engine::Precision fallback);

}  // namespace fovea::server
