// fovea-server: serves the model repository over gRPC until SIGTERM or SIGINT, then drains and exits 0.

#include <csignal>
#include <cstdio>
#include <limits>
#include <thread>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include "engine/threading.h"
#include "modelio/onnx_import.h"
#include "server/config.h"
#include "server/inference_service.h"
#include "server/logging.h"
#include "server/model_repository.h"
#include "server/oip_service.h"
#include "server/worker_pool.h"

namespace fovea::server {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitStartupFailure = 1;
constexpr int kExitUsage = 2;

int HardwareThreads() { return static_cast<int>(std::max(1U, std::thread::hardware_concurrency())); }

int WorkerCount(const ServerConfig& config) { return config.threads > 0 ? config.threads : HardwareThreads(); }

// Workers share the cores: each worker's oneDNN team gets its part, so concurrent requests never oversubscribe.
int ComputeThreadsPerWorker(const ServerConfig& config) {
  if (config.compute_threads > 0) return config.compute_threads;
  return std::max(1, HardwareThreads() / WorkerCount(config));
}

// gRPC takes message limits as int; anything larger than INT_MAX means "as large as gRPC allows".
int MessageLimit(size_t bytes) {
  return static_cast<int>(std::min<size_t>(bytes, static_cast<size_t>(std::numeric_limits<int>::max())));
}

std::unique_ptr<grpc::Server> StartServer(const ServerConfig& config, const std::vector<grpc::Service*>& services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(config.address, grpc::InsecureServerCredentials(), &bound_port);
  // gRPC sets SO_REUSEPORT by default, which would let a second server silently share the port and half the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(MessageLimit(config.max_message_bytes));
  builder.SetMaxSendMessageSize(MessageLimit(config.max_message_bytes));
  for (grpc::Service* service : services) builder.RegisterService(service);
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
  const size_t model_count = catalog->size();
  ModelRepository repository(std::move(*catalog));
  const int compute_threads = ComputeThreadsPerWorker(config);
  WorkerPool workers(WorkerCount(config),
                     [compute_threads] { engine::SetComputeThreadsForThisThread(compute_threads); });
  const ClassifyOptions options{{config.max_image_bytes, config.max_image_pixels}, config.max_images_per_request};
  InferenceService service(repository, workers, options);
  OipService oip_service(repository, workers, options);
  std::unique_ptr<grpc::Server> server = StartServer(config, {&service, &oip_service});
  if (server == nullptr) {
    spdlog::critical("cannot listen on {}", config.address);
    return kExitStartupFailure;
  }
  spdlog::info("fovea-server listening on {} with {} model(s), {} worker thread(s) x {} compute thread(s)",
               config.address, model_count, WorkerCount(config), compute_threads);

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("received signal {}; draining in-flight requests (up to {} s)", signal_number,
               config.shutdown_timeout_seconds);
  server->GetHealthCheckService()->SetServingStatus(false);
  oip_service.SetDraining();
  // Shutdown stops accepting calls and waits for in-flight ones, which need the workers running until it returns.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(config.shutdown_timeout_seconds));
  workers.Stop();
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
