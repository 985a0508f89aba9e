#include "server/config.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

namespace fovea::server {
namespace {

constexpr int kMaxThreads = 1024;

// One configurable setting: its flag, environment variable, help line and how a text value is applied.
struct FlagSpec {
  const char* name;  // without the leading "--"
  const char* env;
  const char* value_name;
  const char* help;
  std::function<Status(const std::string& value, ServerConfig& config)> apply;
  std::function<std::string(const ServerConfig& config)> show_default;
};

StatusOr<int64_t> ParseInt(const std::string& text, int64_t min, int64_t max) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || ptr != end) return InvalidArgument("'" + text + "' is not an integer");
  if (value < min || value > max) {
    return InvalidArgument(text + " is outside [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return value;
}

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
  FOVEA_ASSIGN_OR_RETURN(int64_t value, ParseInt(digits, 1, kMaxBytes >> shift));
  return static_cast<size_t>(value) << shift;
}

template <typename T>
std::function<Status(const std::string&, ServerConfig&)> IntSetter(T ServerConfig::*field, int64_t min, int64_t max) {
  return [field, min, max](const std::string& value, ServerConfig& config) -> Status {
    FOVEA_ASSIGN_OR_RETURN(int64_t parsed, ParseInt(value, min, max));
    config.*field = static_cast<T>(parsed);
    return OkStatus();
  };
}

std::function<Status(const std::string&, ServerConfig&)> BytesSetter(size_t ServerConfig::*field) {
  return [field](const std::string& value, ServerConfig& config) -> Status {
    FOVEA_ASSIGN_OR_RETURN(config.*field, ParseBytes(value));
    return OkStatus();
  };
}

Status SetLogFormat(const std::string& value, ServerConfig& config) {
  if (value == "text") {
    config.log_format = LogFormat::kText;
  } else if (value == "json") {
    config.log_format = LogFormat::kJson;
  } else {
    return InvalidArgument("'" + value + "' is not a log format (text, json)");
  }
  return OkStatus();
}

Status SetLogLevel(const std::string& value, ServerConfig& config) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (value == level) {
      config.log_level = value;
      return OkStatus();
    }
  }
  return InvalidArgument("'" + value + "' is not a log level (trace, debug, info, warn, error, critical, off)");
}

// A setter for a file path flag; the file itself is read (and its errors reported) when the server starts.
std::function<Status(const std::string&, ServerConfig&)> PathSetter(std::string ServerConfig::*field) {
  return [field](const std::string& value, ServerConfig& config) -> Status {
    config.*field = value;
    return OkStatus();
  };
}

std::string ShowPath(const std::string& path) { return path.empty() ? "unset" : path; }

std::string ShowBytes(size_t bytes) {
  if (bytes % (size_t{1} << 20) == 0) return std::to_string(bytes >> 20) + "MiB";
  return std::to_string(bytes);
}

const std::vector<FlagSpec>& FlagSpecs() {
  static const std::vector<FlagSpec> specs = {
      {"address", "FOVEA_ADDRESS", "HOST:PORT", "Address the gRPC server listens on.",
       [](const std::string& v, ServerConfig& c) {
         if (v.empty()) return InvalidArgument("address is empty");
         c.address = v;
         return OkStatus();
       },
       [](const ServerConfig& c) { return c.address; }},
      {"model-repository", "FOVEA_MODEL_REPOSITORY", "DIR",
       "Folder of models laid out as <name>/<version>/model.onnx; every model is loaded, the highest version is "
       "served by default.",
       [](const std::string& v, ServerConfig& c) {
         if (v.empty()) return InvalidArgument("model repository path is empty");
         c.model_repository = v;
         return OkStatus();
       },
       [](const ServerConfig& c) { return c.model_repository; }},
      {"version-policy", "FOVEA_VERSION_POLICY", "latest:N|all|specific:V,...",
       "Versions of each model to load: the N highest that load, every one, or the listed ones.",
       [](const std::string& v, ServerConfig& c) -> Status {
         FOVEA_ASSIGN_OR_RETURN(c.version_policy, ParseVersionPolicy(v));
         return OkStatus();
       },
       [](const ServerConfig& c) { return VersionPolicyText(c.version_policy); }},
      {"repository-poll-secs", "FOVEA_REPOSITORY_POLL_SECS", "SECONDS",
       "How often the model repository is rescanned for added, changed and removed versions; 0 loads it only at "
       "start-up.",
       IntSetter(&ServerConfig::repository_poll_seconds, 0, 86400),
       [](const ServerConfig& c) { return std::to_string(c.repository_poll_seconds); }},
      {"max-image-bytes", "FOVEA_MAX_IMAGE_BYTES", "BYTES",
       "Largest encoded image or raw tensor accepted (suffixes KiB, MiB, GiB).",
       BytesSetter(&ServerConfig::max_image_bytes), [](const ServerConfig& c) { return ShowBytes(c.max_image_bytes); }},
      {"max-image-pixels", "FOVEA_MAX_IMAGE_PIXELS", "N",
       "Largest width*height of one image, checked from the header before decoding.",
       IntSetter(&ServerConfig::max_image_pixels, 1, int64_t{1} << 40),
       [](const ServerConfig& c) { return std::to_string(c.max_image_pixels); }},
      {"max-message-bytes", "FOVEA_MAX_MESSAGE_BYTES", "BYTES",
       "Largest gRPC request or response message (suffixes KiB, MiB, GiB); larger requests fail with "
       "RESOURCE_EXHAUSTED.",
       BytesSetter(&ServerConfig::max_message_bytes),
       [](const ServerConfig& c) { return ShowBytes(c.max_message_bytes); }},
      {"max-images-per-request", "FOVEA_MAX_IMAGES_PER_REQUEST", "N",
       "Most images one Classify request may carry (they run as one batch).",
       IntSetter(&ServerConfig::max_images_per_request, 1, int64_t{1} << 20),
       [](const ServerConfig& c) { return std::to_string(c.max_images_per_request); }},
      {"threads", "FOVEA_THREADS", "N",
       "Worker threads that decode images before batching; 0 means one per usable CPU (see --instances).",
       IntSetter(&ServerConfig::threads, 0, kMaxThreads),
       [](const ServerConfig& c) { return std::to_string(c.threads); }},
      {"compute-threads", "FOVEA_COMPUTE_THREADS", "N",
       "oneDNN threads of each batcher instance; 0 shares the usable CPUs among a model's instances.",
       IntSetter(&ServerConfig::compute_threads, 0, kMaxThreads),
       [](const ServerConfig& c) { return std::to_string(c.compute_threads); }},
      {"max-batch-size", "FOVEA_MAX_BATCH_SIZE", "N",
       "Most images the dynamic batcher runs through a model at once (default for models without config.txt).",
       IntSetter(&ServerConfig::max_batch_size, 1, int64_t{1} << 16),
       [](const ServerConfig& c) { return std::to_string(c.max_batch_size); }},
      {"max-queue-delay-us", "FOVEA_MAX_QUEUE_DELAY_US", "MICROSECONDS",
       "Longest the oldest queued request waits for more to batch with; 0 runs whatever is queued when an instance "
       "is free.",
       IntSetter(&ServerConfig::max_queue_delay_us, 0, 10'000'000),
       [](const ServerConfig& c) { return std::to_string(c.max_queue_delay_us); }},
      {"max-queue-size", "FOVEA_MAX_QUEUE_SIZE", "N",
       "Requests that may wait in a model's batcher queue; more are refused with RESOURCE_EXHAUSTED.",
       IntSetter(&ServerConfig::max_queue_size, 1, int64_t{1} << 20),
       [](const ServerConfig& c) { return std::to_string(c.max_queue_size); }},
      {"instances", "FOVEA_INSTANCES", "N",
       "Batcher instances per model: threads that run its batches in parallel; 0 means one per usable CPU: the CPUs "
       "of the affinity mask, no more than the cgroup CPU quota (docker --cpus, Kubernetes CPU limits) allows.",
       IntSetter(&ServerConfig::instances, 0, 64), [](const ServerConfig& c) { return std::to_string(c.instances); }},
      {"precision", "FOVEA_PRECISION", "fp32|bf16",
       "Float arithmetic of convolutions for models whose config.txt sets no precision; bf16 is about twice as "
       "fast on CPUs with AVX512-BF16/AMX. Models quantized by `fovea-train quantize` run int8 either way.",
       [](const std::string& v, ServerConfig& c) -> Status {
         FOVEA_ASSIGN_OR_RETURN(c.precision, engine::ParsePrecision(v));
         return OkStatus();
       },
       [](const ServerConfig& c) { return std::string(engine::PrecisionName(c.precision)); }},
      {"metrics-port", "FOVEA_METRICS_PORT", "PORT",
       "Port for Prometheus metrics (http://HOST:PORT/metrics, HOST from --address); 0 turns them off.",
       IntSetter(&ServerConfig::metrics_port, 0, 65535),
       [](const ServerConfig& c) { return std::to_string(c.metrics_port); }},
      {"http-port", "FOVEA_HTTP_PORT", "PORT",
       "Port for the Open Inference Protocol v2 REST API and the demo page (http://HOST:PORT/, HOST from "
       "--address); plaintext only, so it cannot be combined with --tls-cert; 0 turns it off.",
       IntSetter(&ServerConfig::http_port, 0, 65535),
       [](const ServerConfig& c) { return std::to_string(c.http_port); }},
      {"shutdown-timeout", "FOVEA_SHUTDOWN_TIMEOUT", "SECONDS",
       "On SIGTERM/SIGINT, how long in-flight requests may take to finish before they are cancelled.",
       IntSetter(&ServerConfig::shutdown_timeout_seconds, 0, 3600),
       [](const ServerConfig& c) { return std::to_string(c.shutdown_timeout_seconds); }},
      {"serving-thread-policy", "FOVEA_SERVING_THREAD_POLICY", "batch|normal",
       "Linux scheduling policy of the threads that receive, convert and answer requests. batch (SCHED_BATCH) keeps "
       "an arriving request from preempting a running batch; the engine's threads always run normal.",
       [](const std::string& v, ServerConfig& c) -> Status {
         FOVEA_ASSIGN_OR_RETURN(c.serving_thread_policy, ParseServingThreadPolicy(v));
         return OkStatus();
       },
       [](const ServerConfig& c) { return std::string(ServingThreadPolicyName(c.serving_thread_policy)); }},
      {"log-format", "FOVEA_LOG_FORMAT", "text|json", "Log line format on stderr.", SetLogFormat,
       [](const ServerConfig& c) { return std::string(c.log_format == LogFormat::kJson ? "json" : "text"); }},
      {"log-level", "FOVEA_LOG_LEVEL", "LEVEL",
       "Least severe level logged: trace, debug, info, warn, error, critical, off.", SetLogLevel,
       [](const ServerConfig& c) { return c.log_level; }},
      {"tls-cert", "FOVEA_TLS_CERT", "FILE", "PEM certificate chain; with --tls-key the server speaks TLS only.",
       PathSetter(&ServerConfig::tls_cert_file), [](const ServerConfig& c) { return ShowPath(c.tls_cert_file); }},
      {"tls-key", "FOVEA_TLS_KEY", "FILE", "PEM private key of --tls-cert.", PathSetter(&ServerConfig::tls_key_file),
       [](const ServerConfig& c) { return ShowPath(c.tls_key_file); }},
      {"tls-client-ca", "FOVEA_TLS_CLIENT_CA", "FILE",
       "PEM CA bundle; clients must present a certificate signed by it (mutual TLS). Needs --tls-cert.",
       PathSetter(&ServerConfig::tls_client_ca_file),
       [](const ServerConfig& c) { return ShowPath(c.tls_client_ca_file); }},
      {"auth-token-file", "FOVEA_AUTH_TOKEN_FILE", "FILE",
       "File holding a bearer token; every RPC except grpc.health.v1.Health must send 'authorization: Bearer "
       "<token>'. Needs --tls-cert.",
       PathSetter(&ServerConfig::auth_token_file), [](const ServerConfig& c) { return ShowPath(c.auth_token_file); }},
  };
  return specs;
}

const FlagSpec* FindFlag(const std::string& name) {
  for (const FlagSpec& spec : FlagSpecs()) {
    if (name == spec.name) return &spec;
  }
  return nullptr;
}

// Applies "--name=value" and "--name value" arguments over `config`.
Status ApplyArgs(const std::vector<std::string>& args, ParsedFlags& parsed) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help_requested = true;
      continue;
    }
    if (!arg.starts_with("--")) return InvalidArgument("unexpected argument '" + arg + "' (see --help)");
    const size_t equals = arg.find('=');
    const std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) return InvalidArgument("unknown flag --" + name + " (see --help)");
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return InvalidArgument("flag --" + name + " needs a value");
    }
    FOVEA_RETURN_IF_ERROR(spec->apply(value, parsed.config).WithContext("flag --" + name));
  }
  return OkStatus();
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): read once at startup
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

StatusOr<ParsedFlags> ParseServerFlags(const std::vector<std::string>& args, const EnvLookup& env) {
  ParsedFlags parsed;
  for (const FlagSpec& spec : FlagSpecs()) {
    if (std::optional<std::string> value = env(spec.env)) {
      FOVEA_RETURN_IF_ERROR(spec.apply(*value, parsed.config).WithContext(std::string("environment ") + spec.env));
    }
  }
  FOVEA_RETURN_IF_ERROR(ApplyArgs(args, parsed));
  return parsed;
}

std::string ServerHelpText() {
  const ServerConfig defaults;
  std::ostringstream out;
  out << "Usage: fovea-server [FLAGS]\n\n"
      << "Serves the ONNX models of a model repository over gRPC: fovea.v1.Inference (Classify, ListModels,\n"
      << "GetModel), grpc.health.v1.Health and server reflection, all on one port; the Open Inference Protocol\n"
      << "v2 over REST and a demo page on --http-port. SIGTERM or SIGINT stops\n"
      << "accepting requests, lets in-flight ones finish and exits 0.\n\nFlags (each also read from its environment "
      << "variable; a flag wins over the variable):\n";
  for (const FlagSpec& spec : FlagSpecs()) {
    out << "  --" << spec.name << "=" << spec.value_name << "  [$" << spec.env << ", default "
        << spec.show_default(defaults) << "]\n      " << spec.help << "\n";
  }
  out << "  --help\n      Print this text and exit.\n";
  return out.str();
}

}  // namespace fovea::server
