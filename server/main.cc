// fovea-server: serves the model repository over gRPC until SIGTERM or SIGINT, then drains and exits 0.

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <string>

#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "common/thread_pool.h"
#include "modelio/onnx_import.h"
#include "server/config.h"
#include "server/models/model_batchers.h"
#include "server/models/model_config.h"
#include "server/models/model_repository.h"
#include "server/models/repository_poller.h"
#include "server/ops/cpu_budget.h"
#include "server/ops/logging.h"
#include "server/ops/metrics.h"
#include "server/ops/security.h"
#include "server/ops/thread_policy.h"
#include "server/transport/grpc/health_service.h"
#include "server/transport/grpc/inference_service.h"
#include "server/transport/grpc/oip_service.h"
#include "server/transport/grpc/unknown_method_service.h"
#include "server/transport/rest/http_server.h"
#include "server/transport/rest/rest_api.h"

namespace fovea::server {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartupFailure = 1;
constexpr int kExitUsage = 2;

// The defaults below are sized for `cpus`: the CPUs the affinity mask and the cgroup quota leave this process (in a
// container, not the host's count).
int WorkerCount(const ServerConfig& config, int cpus) { return config.threads > 0 ? config.threads : cpus; }

// A model's instances share the cores: each instance's oneDNN team gets its part, so concurrent batches never
// oversubscribe them.
BatchingOptions BatchingDefaults(const ServerConfig& config, int cpus) {
  BatchingOptions options;
  options.max_batch_size = config.max_batch_size;
  options.max_queue_delay_us = config.max_queue_delay_us;
  options.max_queue_size = config.max_queue_size;
  // One single-threaded instance per core by default: under contention from other processes a multi-threaded OpenMP
  // team stalls at every barrier (bench/RESULTS.md), while independent instances keep going.
  options.instances = config.instances > 0 ? config.instances : cpus;
  options.compute_threads = config.compute_threads > 0 ? config.compute_threads : std::max(1, cpus / options.instances);
  return options;
}

// The host part of --address ("0.0.0.0:50051" → "0.0.0.0"), where metrics listen too.
std::string HostOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

// gRPC takes message limits as int; anything larger than INT_MAX means "as large as gRPC allows".
int MessageLimit(size_t bytes) {
  return static_cast<int>(std::min<size_t>(bytes, static_cast<size_t>(std::numeric_limits<int>::max())));
}

std::unique_ptr<grpc::Server> StartServer(const ServerConfig& config,
                                          const std::shared_ptr<grpc::ServerCredentials>& credentials,
                                          const std::vector<grpc::Service*>& services) {
  // Fovea's own health service (server/transport/grpc/health_service.h) starts NOT_SERVING; gRPC's would say SERVING.
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(config.address, credentials, &bound_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server silently share the port and half the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(MessageLimit(config.max_message_bytes));
  builder.SetMaxSendMessageSize(MessageLimit(config.max_message_bytes));
  for (grpc::Service* service : services) builder.RegisterService(service);
  // Answers every method the services above do not have; gRPC keeps a pointer, so it lives as long as the process.
  static UnknownMethodService unknown_methods;
  builder.RegisterCallbackGenericService(&unknown_methods);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) return nullptr;
  return server;
}

std::string SecuritySummary(const ServerConfig& config) {
  std::string summary = config.tls_cert_file.empty()        ? "plaintext"
                        : config.tls_client_ca_file.empty() ? "TLS"
                                                            : "mutual TLS";
  return summary + (config.auth_token_file.empty() ? "" : ", bearer token required");
}

// The REST port's security: the gRPC port's TLS files and token (BuildServerCredentials has checked the combination).
StatusOr<HttpServerOptions> RestOptions(const ServerConfig& config) {
  HttpServerOptions options{HostOf(config.address),
                            config.http_port,
                            config.max_message_bytes,
                            {config.tls_cert_file, config.tls_key_file, config.tls_client_ca_file, ""}};
  if (!config.auth_token_file.empty()) {
    FOVEA_ASSIGN_OR_RETURN(options.security.bearer_token, ReadTokenFile(config.auth_token_file));
  }
  return options;
}

// Loads `<repository>/<name>/<version>/model.onnx` with its folder's configuration: the precision it sets (the
// --precision flag when it sets none) and its labels and preprocessing over the file's metadata.
StatusOr<std::shared_ptr<const engine::Model>> LoadConfiguredModel(const std::string& path,
                                                                   const ModelFolderConfig& folder,
                                                                   engine::Precision fallback) {
  const engine::Precision precision = PrecisionFor(folder, fallback);
  auto model = modelio::LoadOnnxModel(path, {.precision = precision}, {}, MetadataOverrides(folder));
  if (!model.ok() && !folder.source.empty()) {
    // The metadata the configuration overrides is checked here, so the error names where it came from.
    return model.status().WithContext("with " + folder.source +
                                      (folder.labels_source.empty() ? "" : " and " + folder.labels_source));
  }
  if (!model.ok()) return model.status();
  spdlog::info("{}: {}", path, (*model)->quantized() ? "int8 (quantized model)" : engine::PrecisionName(precision));
  return model;
}

int Serve(const ServerConfig& config, const sigset_t& stop_signals) {
  StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials = BuildServerCredentials(config);
  if (!credentials.ok()) {
    spdlog::critical("{}", credentials.status().message());
    return kExitStartupFailure;
  }
  Metrics metrics;
  if (config.metrics_port != 0) {
    if (Status serving = metrics.Serve(HostOf(config.address), config.metrics_port); !serving.ok()) {
      spdlog::critical("{}", serving.message());
      return kExitStartupFailure;
    }
  }
  ModelRepository repository;
  repository.SetReplaceListener([&metrics](const ModelCatalog& catalog) {
    metrics.SetModelsLoaded(static_cast<int64_t>(CountVersions(catalog)));
  });
  RepositoryPoller poller(config.model_repository, config.version_policy,
                          PreparingLoader(
                              [&config](const std::string& path, const ModelFolderConfig& folder) {
                                return LoadConfiguredModel(path, folder, config.precision);
                              },
                              config.version_policy),
                          repository);
  if (config.explicit_model_control) {
    poller.ControlExplicitly(std::set<std::string>(config.load_models.begin(), config.load_models.end()));
  }
  const CpuBudget cpus = DetectCpuBudget();
  spdlog::info("CPUs: {} in the affinity mask, cgroup quota {}; defaults sized for {}", cpus.affinity_cpus,
               cpus.quota_cpus ? fmt::format("{:.2f}", *cpus.quota_cpus) : "none", cpus.usable);
  const BatchingOptions batching = BatchingDefaults(config, cpus.usable);
  ModelBatchers batchers(repository, config.model_repository, batching, metrics);
  common::ThreadPool workers("fovea-worker", WorkerCount(config, cpus.usable));
  const ClassifyOptions options{{config.max_image_bytes, config.max_image_pixels},
                                config.max_images_per_request,
                                config.max_message_bytes,
                                config.max_dense_pixels};
  const ServingContext serving{repository, workers, batchers, metrics, poller, options};
  InferenceService service(serving);
  OipService oip_service(serving);
  // The whole server ("") and each API service turn SERVING together, once every model of the first repository pass
  // is loaded and warmed up.
  HealthService health({v1::Inference::service_full_name(), ::inference::GRPCInferenceService::service_full_name()});
  std::unique_ptr<grpc::Server> server = StartServer(config, *credentials, {&service, &oip_service, &health});
  if (server == nullptr) {
    spdlog::critical("cannot listen on {}{}", config.address,
                     config.tls_cert_file.empty() ? "" : " (or the TLS certificate and key are not a valid PEM pair)");
    return kExitStartupFailure;
  }
  RestApi rest_api(serving);
  std::unique_ptr<HttpServer> http_server;
  if (config.http_port != 0) {
    StatusOr<HttpServerOptions> options = RestOptions(config);
    StatusOr<std::unique_ptr<HttpServer>> started =
        options.ok() ? HttpServer::Start(*options, rest_api) : StatusOr<std::unique_ptr<HttpServer>>(options.status());
    if (!started.ok()) {
      spdlog::critical("{}", started.status().message());
      server->Shutdown();
      return kExitStartupFailure;
    }
    http_server = std::move(*started);
  }
  // Listening (health says NOT_SERVING until then) while the models load lets probes see the process alive but not
  // ready.
  if (!poller.Sync().ok()) {  // the poller has logged why
    server->Shutdown();
    return kExitStartupFailure;
  }
  const size_t model_count = CountVersions(*repository.Snapshot());
  if (model_count == 0) spdlog::warn("model repository {} has no loadable model", config.model_repository);
  batchers.CreateAll();
  health.SetServing(true);
  const bool polling = !config.explicit_model_control && config.repository_poll_seconds > 0;
  if (polling) poller.Start(std::chrono::seconds(config.repository_poll_seconds));
  spdlog::info(
      "fovea-server listening on {} ({}) with {} model version(s) (version policy {}, {}), {} decoding worker(s); "
      "metrics {}; REST {}",
      config.address, SecuritySummary(config), model_count, VersionPolicyText(config.version_policy),
      config.explicit_model_control ? std::string("models loaded and unloaded by request")
      : polling                     ? fmt::format("repository polled every {} s", config.repository_poll_seconds)
                                    : std::string("repository read at start-up"),
      WorkerCount(config, cpus.usable),
      config.metrics_port == 0 ? std::string("off")
                               : "on " + HostOf(config.address) + ":" + std::to_string(config.metrics_port),
      config.http_port == 0 ? std::string("off")
                            : (config.tls_cert_file.empty() ? "on http://" : "on https://") + HostOf(config.address) +
                                  ":" + std::to_string(config.http_port) + "/");

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received signal {}; draining in-flight requests (up to {} s)", signal_number,
               config.shutdown_timeout_seconds);
  poller.Stop();
  health.Shutdown();
  oip_service.SetDraining();
  rest_api.SetDraining();
  // REST requests in flight are answered first (Stop waits for them); they need the workers and batchers too.
  if (http_server) http_server->Stop();
  // Shutdown stops accepting calls and waits for in-flight ones, which need the workers and batchers running until
  // it returns. Then the workers finish what they hold (handing it to the batchers), and the batchers answer
  // everything still queued before the server object goes away.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(config.shutdown_timeout_seconds));
  workers.Stop();
  batchers.StopAll();
  server->Wait();
  spdlog::info("fovea-server stopped");
  return kExitOk;
}

}  // namespace
}  // namespace fovea::server

int main(int argc, char** argv) {
  using namespace fovea::server;
  // Block the stop signals before any thread exists: every thread inherits the mask, so only sigwait() sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex lock inside gRPC also updated a lock-order graph for
  // deadlock detection: about a sixth of the serving path's instructions per request (bench/RESULTS.md, serving path
  // profile). Release builds of Abseil leave it off; so does the server.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  const std::vector<std::string> args(argv + 1, argv + argc);
  fovea::StatusOr<ParsedFlags> parsed = ParseServerFlags(args, fovea::ProcessEnv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "fovea-server: %s\n", parsed.status().message().c_str());
    return kExitUsage;
  }
  if (parsed->help_requested) {
    std::fputs(ServerHelpText().c_str(), stdout);
    return kExitOk;
  }
  // Before any other thread exists, so that every thread inherits it; batcher instances switch back themselves.
  const fovea::Status policy = ApplyServingThreadPolicy(parsed->config.serving_thread_policy);
  SetUpLogging(parsed->config);
  if (!policy.ok()) spdlog::warn("serving threads keep the normal scheduling policy: {}", policy.message());
  return Serve(parsed->config, stop_signals);
}
