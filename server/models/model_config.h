#pragma once
// A model folder's configuration, read when a version of the model loads. One source of truth: Triton's ModelConfig
// (server/models/triton_config.h), from either
//   `<repository>/<model>/config.pbtxt`  Triton's format, as a Triton model repository has it, or
//   `<repository>/<model>/config.txt`    Fovea's shorthand, one `key = value` per line ('#' comments), converted into
//                                        the same ModelConfig:
//       max_batch_size      images per engine run (1..65536)               → max_batch_size
//       max_queue_delay_us  longest the oldest request waits (0..10000000) →
//       dynamic_batching.max_queue_delay_microseconds max_queue_size      requests that may wait (1..1048576) →
//       dynamic_batching.default_queue_policy instances           threads running batches in parallel (1..64)    →
//       instance_group { kind: KIND_CPU count } compute_threads     oneDNN threads of each instance (1..1024)      →
//       parameters[compute_threads] precision           fp32 or bf16                                    →
//       parameters[precision]
// A folder with both files is an error (which one would win is not obvious), a folder with neither serves with the
// server's flags. Anything wrong (syntax with line:column, unknown shorthand key, a value out of range, a label file
// that cannot be read) fails the load of the model with a message naming the file.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/model.h"
#include "inference/model_config.pb.h"
#include "server/models/batcher.h"
#include "server/models/version_policy.h"

namespace fovea::server {

// The shorthand's file name.
inline constexpr char kModelConfigFileName[] = "config.txt";

struct ModelFolderConfig {
  inference::ModelConfig config;     // as written (config.pbtxt) or converted (config.txt); empty without a file
  std::string source;                // the file it came from (or the load request); empty when there is none
  bool triton_format = false;        // from config.pbtxt: Triton's meanings apply (max_batch_size 0 = no batching)
  bool sets_max_batch_size = false;  // the shorthand sets only what it names; config.pbtxt sets everything
  bool sets_queue_delay = false;
  std::vector<std::string> not_implemented;  // fields Fovea does not implement, for the log
  std::vector<std::string> labels;           // the first output's label_filename, one label per line
  std::string labels_source;                 // that file; empty when there is none
};

// Converts the shorthand `text` (the content of `source`, named in errors with the line) into a ModelConfig.
StatusOr<ModelFolderConfig> ParseShorthandConfig(const std::string& text, const std::string& source);

// Reads `model_folder`'s config.pbtxt or config.txt, checks it on its own (name equal to the folder's, platform,
// values) and reads the first output's label file. A non-empty `config_json` (a ModelConfig in JSON, from a
// RepositoryModelLoad request) replaces the folder's configuration file, as in Triton; the label file it names is
// still read from the folder.
StatusOr<ModelFolderConfig> LoadModelFolderConfig(const std::filesystem::path& model_folder,
                                                  std::string_view config_json = {});

// How the model batches: `defaults` (the server's flags) overridden by what `folder` sets. A config.pbtxt with
// max_batch_size 0 runs every request alone (Triton: no batching); its preferred_batch_size values are engine batch
// sizes the batcher aims at, besides its powers of two.
BatchingOptions BatchingFor(const ModelFolderConfig& folder, const BatchingOptions& defaults);

// parameters[precision], or `fallback` (the --precision flag).
engine::Precision PrecisionFor(const ModelFolderConfig& folder, engine::Precision fallback);

// version_policy when the configuration sets one, else `fallback` (the --version-policy flag).
VersionPolicy VersionPolicyFor(const ModelFolderConfig& folder, const VersionPolicy& fallback);
// The same policy as Triton's message.
inference::ModelVersionPolicy VersionPolicyMessage(const VersionPolicy& policy);

// The ONNX metadata entries the configuration overrides (docs/model-format.md keys): labels, the input layout from
// input[0].format, mean/std, channel order, resize mode and the score activation from the parameters. The file's
// settings win over the ONNX file's metadata.
std::vector<std::pair<std::string, std::string>> MetadataOverrides(const ModelFolderConfig& folder);

// Logs `folder`'s not-implemented fields for model `name`, each once per process.
void LogNotImplementedOnce(const std::string& name, const ModelFolderConfig& folder);

}  // namespace fovea::server
