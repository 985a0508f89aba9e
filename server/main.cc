// fovea-server: serves the model repository over gRPC until SIGTERM or SIGINT, then drains and exits 0.

#include <csignal>
#include <cstdio>
#include <limits>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "modelio/onnx_import.h"
#include "server/config.h"
#include "server/inference_service.h"
#include "server/logging.h"
#include "server/metrics.h"
#include "server/model_batchers.h"
#include "server/model_repository.h"
#include "server/worker_pool.h"

namespace fovea::server {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartupFailure = 1;
constexpr int kExitUsage = 2;

int HardwareThreads() { return static_cast<int>(std::max(1U, std::thread::hardware_concurrency())); }

int WorkerCount(const ServerConfig& config) { return config.threads > 0 ? config.threads : HardwareThreads(); }

// A model's instances share the cores: each instance's oneDNN team gets its part, so concurrent batches never
// oversubscribe them.
BatchingOptions BatchingDefaults(const ServerConfig& config) {
  BatchingOptions options;
  options.max_batch_size = config.max_batch_size;
  options.max_queue_delay_us = config.max_queue_delay_us;
  options.max_queue_size = config.max_queue_size;
  // One single-threaded instance per core by default: under contention from other processes a multi-threaded OpenMP
  // team stalls at every barrier (bench/RESULTS.md), while independent instances keep going.
  options.instances = config.instances > 0 ? config.instances : HardwareThreads();
  options.compute_threads =
      config.compute_threads > 0 ? config.compute_threads : std::max(1, HardwareThreads() / options.instances);
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

std::unique_ptr<grpc::Server> StartServer(const ServerConfig& config, InferenceService& service) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(config.address, grpc::InsecureServerCredentials(), &bound_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server silently share the port and half the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(MessageLimit(config.max_message_bytes));
  builder.SetMaxSendMessageSize(MessageLimit(config.max_message_bytes));
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || bound_port == 0) return nullptr;
  return server;
}

int Serve(const ServerConfig& config, const sigset_t& stop_signals) {
  StatusOr<ModelCatalog> catalog =
      ScanRepository(config.model_repository, [](const std::string& path) { return modelio::LoadOnnxModel(path); });
  if (!catalog.ok()) {
    spdlog::critical("{}", catalog.status().ToString());
    return kExitStartupFailure;
  }
  if (catalog->empty()) spdlog::warn("model repository {} has no loadable model", config.model_repository);
  size_t model_count = 0;
  for (const auto& [name, versions] : *catalog) model_count += versions.size();
  Metrics metrics;
  metrics.SetModelsLoaded(static_cast<int64_t>(model_count));
  if (config.metrics_port != 0) {
    if (Status serving = metrics.Serve(HostOf(config.address), config.metrics_port); !serving.ok()) {
      spdlog::critical("{}", serving.message());
      return kExitStartupFailure;
    }
  }
  ModelRepository repository(std::move(*catalog));
  const BatchingOptions batching = BatchingDefaults(config);
  ModelBatchers batchers(repository, config.model_repository, batching, metrics);
  batchers.CreateAll();
  WorkerPool workers(WorkerCount(config));
  InferenceService service(repository, workers, batchers, metrics,
                           {{config.max_image_bytes, config.max_image_pixels}, config.max_images_per_request});
  std::unique_ptr<grpc::Server> server = StartServer(config, service);
  if (server == nullptr) {
    spdlog::critical("cannot listen on {}", config.address);
    return kExitStartupFailure;
  }
  spdlog::info("fovea-server listening on {} with {} model version(s), {} decoding worker(s); metrics {}",
               config.address, model_count, WorkerCount(config),
               config.metrics_port == 0 ? std::string("off")
                                        : "on " + HostOf(config.address) + ":" + std::to_string(config.metrics_port));

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received signal {}; draining in-flight requests (up to {} s)", signal_number,
               config.shutdown_timeout_seconds);
  server->GetHealthCheckService()->SetServingStatus(false);
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

  const std::vector<std::string> args(argv + 1, argv + argc);
  fovea::StatusOr<ParsedFlags> parsed = ParseServerFlags(args, ProcessEnv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "fovea-server: %s\n", parsed.status().message().c_str());
    return kExitUsage;
  }
  if (parsed->help_requested) {
    std::fputs(ServerHelpText().c_str(), stdout);
    return kExitOk;
  }
  SetUpLogging(parsed->config);
  return Serve(parsed->config, stop_signals);
}
