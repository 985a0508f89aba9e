#pragma once
// fovea-server configuration: every setting is a command-line flag with a FOVEA_* environment variable equivalent.
// Precedence: flag, then environment, then the built-in default.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/flags.h"
#include "common/status.h"
#include "engine/model.h"
#include "server/models/version_policy.h"
#include "server/ops/thread_policy.h"

namespace fovea::server {

enum class LogFormat { kText, kJson };

struct ServerConfig {
  std::string address = "0.0.0.0:50051";
  std::string model_repository = "models";
  VersionPolicy version_policy;         // which versions of each model are loaded (latest:1)
  int64_t repository_poll_seconds = 5;  // how often the repository is rescanned; 0 = only at start-up
  // Triton's --model-control-mode: false serves every model folder (polled as above); true serves only the models
  // named by --load-model and loaded since through the repository extension, without polling.
  bool explicit_model_control = false;
  std::vector<std::string> load_models;          // explicit control: the models to load at start-up
  size_t max_image_bytes = size_t{32} << 20;     // per encoded image or raw tensor
  int64_t max_image_pixels = int64_t{64} << 20;  // width * height of one image, checked before decoding
  int64_t max_dense_pixels = int64_t{1} << 20;   // width * height of one DENSE Localize image
  size_t max_message_bytes = size_t{64} << 20;   // largest request gRPC accepts (its own default is 4 MB)
  int64_t max_images_per_request = 1024;
  int threads = 0;              // image-decoding workers; 0 = one per hardware thread
  int compute_threads = 0;      // oneDNN threads per batcher instance; 0 = hardware threads / instances
  int64_t max_batch_size = 64;  // batching defaults; models/<name>/config.txt may override them
  int64_t max_queue_delay_us = 0;
  int64_t max_queue_size = 1024;
  int instances = 0;                      // batcher instances per model; 0 = one per hardware thread
  int metrics_port = 9090;                // Prometheus /metrics on the --address host; 0 = off
  int http_port = 8000;                   // OIP v2 REST and the demo page on the --address host; 0 = off
  int64_t shutdown_timeout_seconds = 30;  // grace period for in-flight requests on SIGTERM/SIGINT
  LogFormat log_format = LogFormat::kText;
  std::string log_level = "info";
  std::string tls_cert_file;       // PEM certificate chain; set (with tls_key_file) to serve TLS only
  std::string tls_key_file;        // PEM private key of tls_cert_file
  std::string tls_client_ca_file;  // PEM CA bundle; set to require client certificates signed by it (mutual TLS)
  std::string auth_token_file;     // file holding the bearer token every RPC but health must carry
  // Float arithmetic of models whose config.txt has no `precision` key (quantized models run int8 regardless).
  engine::Precision precision = engine::Precision::kFp32;
  // Scheduling policy of the threads that receive, convert and answer requests (server/ops/thread_policy.h).
  ServingThreadPolicy serving_thread_policy = ServingThreadPolicy::kBatch;
};

// The result of parsing: a configuration, or a request for the help text.
struct ParsedFlags {
  ServerConfig config;
  bool help_requested = false;
};

// Parses `args` (without the program name) and FOVEA_* variables from `env`. Errors name the flag or variable and
// the bad value.
StatusOr<ParsedFlags> ParseServerFlags(const std::vector<std::string>& args, const EnvLookup& env);

// The --help text: every flag, its environment variable, its default and what it does.
std::string ServerHelpText();

}  // namespace fovea::server
