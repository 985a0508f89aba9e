#include "server/config.h"

#include "server/models/model_repository.h"

namespace fovea::server {
namespace {

constexpr int kMaxThreads = 1024;
constexpr int64_t kMaxPort = 65535;

// Accepts a byte count with an optional binary suffix: "1048576", "512KiB", "64MiB", "1GiB".
StatusOr<size_t> ParseBytes(const std::string& text) {
  constexpr std::pair<const char*, int> kSuffixes[] = {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}};
  std::string digits = text;
  int shift = 0;
  for (const auto& [suffix, bits] : kSuffixes) {
    const std::string s = suffix;
    if (text.size() > s.size() && text.ends_with(s)) {
      digits = text.substr(0, text.size() - s.size());
      shift = bits;
    }
  }
  constexpr int64_t kMaxBytes = int64_t{1} << 40;
  FOVEA_ASSIGN_OR_RETURN(int64_t value, ParseInteger(digits, 1, kMaxBytes >> shift));
  return static_cast<size_t>(value) << shift;
}

std::string ShowBytes(size_t bytes) {
  if (bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  return std::to_string(bytes);
}

Flag BytesFlag(std::string name, size_t* target, std::string help) {
  return CustomFlag(std::move(name), "BYTES", std::move(help),
                    [target](const std::string& value) -> Status {
                      FOVEA_ASSIGN_OR_RETURN(*target, ParseBytes(value));
                      return OkStatus();
                    })
      .Default(ShowBytes(*target));
}

// A text flag that must not be empty.
Flag NonEmptyFlag(std::string name, std::string* target, std::string value_name, std::string what, std::string help) {
  return CustomFlag(std::move(name), std::move(value_name), std::move(help),
                    [target, what](const std::string& value) -> Status {
                      if (value.empty()) return InvalidArgument(what + " is empty");
                      *target = value;
                      return OkStatus();
                    })
      .Default(*target);
}

Status SetLogFormat(const std::string& value, LogFormat& format) {
  if (value == "text") {
    format = LogFormat::kText;
  } else if (value == "json") {
    format = LogFormat::kJson;
  } else {
    return InvalidArgument("'" + value + "' is not a log format (text, json)");
  }
  return OkStatus();
}

Status SetLogLevel(const std::string& value, std::string& level) {
  for (const char* known : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (value == known) {
      level = value;
      return OkStatus();
    }
  }
  return InvalidArgument("'" + value + "' is not a log level (trace, debug, info, warn, error, critical, off)");
}

void AddRepositoryFlags(FlagSet& flags, ServerConfig& c) {
  flags.Add(NonEmptyFlag("address", &c.address, "HOST:PORT", "address", "Address the gRPC server listens on.")
                .Env("FOVEA_ADDRESS"));
  flags.Add(NonEmptyFlag("model-repository", &c.model_repository, "DIR", "model repository path",
                         "Folder of models laid out as <name>/<version>/model.onnx; every model is loaded, the "
                         "highest version is served by default.")
                .Env("FOVEA_MODEL_REPOSITORY"));
  flags.Add(CustomFlag("version-policy", "latest:N|all|specific:V,...",
                       "Versions of each model to load: the N highest that load, every one, or the listed ones.",
                       [&c](const std::string& v) -> Status {
                         FOVEA_ASSIGN_OR_RETURN(c.version_policy, ParseVersionPolicy(v));
                         return OkStatus();
                       })
                .Default(VersionPolicyText(c.version_policy))
                .Env("FOVEA_VERSION_POLICY"));
  flags.Add(IntegerFlag("repository-poll-secs", &c.repository_poll_seconds, 0, 86400, "SECONDS",
                        "How often the model repository is rescanned for added, changed and removed versions; 0 "
                        "loads it only at start-up.")
                .Env("FOVEA_REPOSITORY_POLL_SECS"));
  flags.Add(CustomFlag("model-control-mode", "poll|explicit",
                       "poll: serve every model folder, rescanned every --repository-poll-secs. explicit (Triton's): "
                       "serve only the models named by --load-model and those loaded since through the model "
                       "repository extension (RepositoryModelLoad/Unload, POST /v2/repository/models/NAME/load and "
                       "unload); nothing is polled.",
                       [&c](const std::string& v) -> Status {
                         if (v != "poll" && v != "explicit") {
                           return InvalidArgument("--model-control-mode must be poll or explicit, got '" + v + "'");
                         }
                         c.explicit_model_control = v == "explicit";
                         return OkStatus();
                       })
                .Default("poll")
                .Env("FOVEA_MODEL_CONTROL_MODE"));
  flags.Add(CustomFlag("load-model", "NAME",
                       "With --model-control-mode explicit: a model to load at start-up; repeat the flag for more.",
                       [&c](const std::string& v) -> Status {
                         FOVEA_RETURN_IF_ERROR(ValidateModelName(v).WithContext("--load-model"));
                         c.load_models.push_back(v);
                         return OkStatus();
                       }));
}

void AddLimitFlags(FlagSet& flags, ServerConfig& c) {
  flags.Add(BytesFlag("max-image-bytes", &c.max_image_bytes,
                      "Largest encoded image or raw tensor accepted (suffixes KiB, MiB, GiB).")
                .Env("FOVEA_MAX_IMAGE_BYTES"));
  flags.Add(IntegerFlag("max-image-pixels", &c.max_image_pixels, 1, int64_t{1} << 40, "N",
                        "Largest width*height of one image, checked from the header before decoding.")
                .Env("FOVEA_MAX_IMAGE_PIXELS"));
  flags.Add(IntegerFlag("max-dense-pixels", &c.max_dense_pixels, 1, int64_t{1} << 40, "N",
                        "Largest width*height of one image a DENSE Localize maps: the trunk runs on the whole image, "
                        "so its memory grows with it (a 32-channel activation of 1 Mpixel is 128 MiB). Clients that "
                        "tile (fovea slide) read it from GetModel and size their tiles under it.")
                .Env("FOVEA_MAX_DENSE_PIXELS"));
  flags.Add(BytesFlag("max-message-bytes", &c.max_message_bytes,
                      "Largest gRPC request or response message (suffixes KiB, MiB, GiB); larger requests fail with "
                      "RESOURCE_EXHAUSTED.")
                .Env("FOVEA_MAX_MESSAGE_BYTES"));
  flags.Add(IntegerFlag("max-images-per-request", &c.max_images_per_request, 1, int64_t{1} << 20, "N",
                        "Most images one Classify request may carry (they run as one batch).")
                .Env("FOVEA_MAX_IMAGES_PER_REQUEST"));
}

void AddComputeFlags(FlagSet& flags, ServerConfig& c) {
  flags.Add(IntegerFlag("threads", &c.threads, 0, kMaxThreads, "N",
                        "Worker threads that decode images before batching; 0 means one per usable CPU (see "
                        "--instances).")
                .Env("FOVEA_THREADS"));
  flags.Add(IntegerFlag("compute-threads", &c.compute_threads, 0, kMaxThreads, "N",
                        "oneDNN threads of each batcher instance; 0 shares the usable CPUs among a model's instances.")
                .Env("FOVEA_COMPUTE_THREADS"));
  flags.Add(IntegerFlag("max-batch-size", &c.max_batch_size, 1, int64_t{1} << 16, "N",
                        "Most images the dynamic batcher runs through a model at once (default for models without "
                        "config.txt).")
                .Env("FOVEA_MAX_BATCH_SIZE"));
  flags.Add(IntegerFlag("max-queue-delay-us", &c.max_queue_delay_us, 0, 10'000'000, "MICROSECONDS",
                        "Longest the oldest queued request waits for more to batch with; 0 runs whatever is queued "
                        "when an instance is free.")
                .Env("FOVEA_MAX_QUEUE_DELAY_US"));
  flags.Add(IntegerFlag("max-queue-size", &c.max_queue_size, 1, int64_t{1} << 20, "N",
                        "Requests that may wait in a model's batcher queue; more are refused with RESOURCE_EXHAUSTED.")
                .Env("FOVEA_MAX_QUEUE_SIZE"));
  flags.Add(IntegerFlag("instances", &c.instances, 0, 64, "N",
                        "Batcher instances per model: threads that run its batches in parallel; 0 means one per "
                        "usable CPU: the CPUs of the affinity mask, no more than the cgroup CPU quota (docker --cpus, "
                        "Kubernetes CPU limits) allows.")
                .Env("FOVEA_INSTANCES"));
  flags.Add(CustomFlag("precision", "fp32|bf16",
                       "Float arithmetic of convolutions for models whose config.txt sets no precision; bf16 is about "
                       "twice as fast on CPUs with AVX512-BF16/AMX. Models quantized by `fovea-train quantize` run "
                       "int8 either way.",
                       [&c](const std::string& v) -> Status {
                         FOVEA_ASSIGN_OR_RETURN(c.precision, engine::ParsePrecision(v));
                         return OkStatus();
                       })
                .Default(std::string(engine::PrecisionName(c.precision)))
                .Env("FOVEA_PRECISION"));
}

void AddServingFlags(FlagSet& flags, ServerConfig& c) {
  flags.Add(IntegerFlag("metrics-port", &c.metrics_port, 0, kMaxPort, "PORT",
                        "Port for Prometheus metrics (http://HOST:PORT/metrics, HOST from --address); 0 turns them "
                        "off.")
                .Env("FOVEA_METRICS_PORT"));
  flags.Add(IntegerFlag("http-port", &c.http_port, 0, kMaxPort, "PORT",
                        "Port for the Open Inference Protocol v2 REST API and the demo page (http://HOST:PORT/, HOST "
                        "from --address); with --tls-cert it serves HTTPS only, with the gRPC port's mutual TLS and "
                        "bearer token; 0 turns it off.")
                .Env("FOVEA_HTTP_PORT"));
  flags.Add(IntegerFlag("shutdown-timeout", &c.shutdown_timeout_seconds, 0, 3600, "SECONDS",
                        "On SIGTERM/SIGINT, how long in-flight requests may take to finish before they are "
                        "cancelled.")
                .Env("FOVEA_SHUTDOWN_TIMEOUT"));
  flags.Add(CustomFlag("serving-thread-policy", "batch|normal",
                       "Linux scheduling policy of the threads that receive, convert and answer requests. batch "
                       "(SCHED_BATCH) keeps an arriving request from preempting a running batch; the engine's threads "
                       "always run normal.",
                       [&c](const std::string& v) -> Status {
                         FOVEA_ASSIGN_OR_RETURN(c.serving_thread_policy, ParseServingThreadPolicy(v));
                         return OkStatus();
                       })
                .Default(std::string(ServingThreadPolicyName(c.serving_thread_policy)))
                .Env("FOVEA_SERVING_THREAD_POLICY"));
  flags.Add(CustomFlag("log-format", "text|json", "Log line format on stderr.",
                       [&c](const std::string& v) { return SetLogFormat(v, c.log_format); })
                .Default(c.log_format == LogFormat::kJson ? "json" : "text")
                .Env("FOVEA_LOG_FORMAT"));
  flags.Add(CustomFlag("log-level", "LEVEL",
                       "Least severe level logged: trace, debug, info, warn, error, critical, off.",
                       [&c](const std::string& v) { return SetLogLevel(v, c.log_level); })
                .Default(c.log_level)
                .Env("FOVEA_LOG_LEVEL"));
}

// The files are read (and their errors reported) when the server starts.
void AddSecurityFlags(FlagSet& flags, ServerConfig& c) {
  flags.Add(TextFlag("tls-cert", &c.tls_cert_file, "FILE",
                     "PEM certificate chain; with --tls-key the gRPC port and the REST port (HTTPS) speak TLS only.")
                .Env("FOVEA_TLS_CERT"));
  flags.Add(TextFlag("tls-key", &c.tls_key_file, "FILE", "PEM private key of --tls-cert.").Env("FOVEA_TLS_KEY"));
  flags.Add(TextFlag("tls-client-ca", &c.tls_client_ca_file, "FILE",
                     "PEM CA bundle; clients must present a certificate signed by it (mutual TLS). Needs --tls-cert.")
                .Env("FOVEA_TLS_CLIENT_CA"));
  flags.Add(TextFlag("auth-token-file", &c.auth_token_file, "FILE",
                     "File holding a bearer token; every RPC except grpc.health.v1.Health, and every REST route "
                     "except /v2/health/{live,ready}, must send 'authorization: Bearer <token>'. Needs --tls-cert.")
                .Env("FOVEA_AUTH_TOKEN_FILE"));
}

// The flag table of fovea-server, bound to `c` (which must outlive it); defaults are c's values.
FlagSet ServerFlags(ServerConfig& c) {
  FlagSet flags({.usage = "fovea-server [FLAGS]",
                 .description =
                     "Serves the ONNX models of a model repository over gRPC: fovea.v1.Inference (Classify, "
                     "ListModels, GetModel), grpc.health.v1.Health and server reflection, all on one port; the Open "
                     "Inference Protocol v2 over REST and a demo page on --http-port. SIGTERM or SIGINT stops "
                     "accepting requests, lets in-flight ones finish and exits 0.\n\nEvery flag is also read from its "
                     "environment variable, shown as [$FOVEA_...]; a flag wins over the variable.",
                 .see_help = "--help"});
  AddRepositoryFlags(flags, c);
  AddLimitFlags(flags, c);
  AddComputeFlags(flags, c);
  AddServingFlags(flags, c);
  AddSecurityFlags(flags, c);
  return flags;
}

}  // namespace

StatusOr<ParsedFlags> ParseServerFlags(const std::vector<std::string>& args, const EnvLookup& env) {
  ParsedFlags parsed;
  FOVEA_ASSIGN_OR_RETURN(const ParsedArgs result, ServerFlags(parsed.config).Parse(args, env));
  parsed.help_requested = result.help;
  if (!parsed.config.load_models.empty() && !parsed.config.explicit_model_control) {
    return InvalidArgument("--load-model needs --model-control-mode explicit (in poll mode every model is loaded)");
  }
  return parsed;
}

std::string ServerHelpText() {
  ServerConfig defaults;
  return ServerFlags(defaults).Help();
}

}  // namespace fovea::server
