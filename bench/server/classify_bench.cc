// classify_bench: Classify latency and throughput over gRPC, batch 1, at several client concurrencies. By default each
// request carries one raw float32 tensor of the model's input shape, so the figures measure serving plus inference,
// not image decoding; with --image it carries that file's encoded bytes instead. Paired with engine_bench on the same
// model by bench/server/run.py to get the serving overhead; bench/compare/run.py drives fovea-server and a Python
// peer server with it. --requests N sends exactly N calls per concurrency instead of running for --seconds (for
// profiles whose counts must not depend on the machine's speed).
//
// --mode sync (the default) runs one thread per concurrent client, each making blocking calls, as separate client
// processes would. --mode async keeps the same number of calls in flight from gRPC's own threads (callback API), as
// load generators do; on a machine whose cores the clients share with the server it costs the clients less CPU.
// --rpc server-live measures the Open Inference Protocol's ServerLive instead of Classify: a unary call the server
// answers at once, so its rate and CPU cost are gRPC's own floor on this machine.
//
// usage: classify_bench --server HOST:PORT --model NAME [--version V] [--input 1,28,28 | --image FILE]
//                       [--concurrency 1,8,32] [--seconds 5 | --requests N] [--round-trips 2000]
//                       [--mode sync|async] [--rpc classify|server-live]
// prints the ListModels round trip (--round-trips samples; 0 = skip it) and one JSON object per concurrency, with
// the CPU seconds this process used during that run.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/fovea_client.h"
#include "inference/grpc_service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWarmupRequests = 20;

std::vector<int64_t> ParseList(const std::string& text) {
  std::vector<int64_t> values;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) values.push_back(std::stoll(part));
  return values;
}

fovea::v1::ClassifyRequest MakeTensorRequest(const std::vector<int64_t>& shape) {
  int64_t elements = 1;
  for (int64_t d : shape) elements *= d;
  std::vector<float> values(static_cast<size_t>(elements));
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  for (float& v : values) v = dist(rng);
  fovea::v1::ClassifyRequest request;
  auto* tensor = request.add_images()->mutable_tensor();
  tensor->set_dtype(fovea::v1::DATA_TYPE_FLOAT32);
  for (int64_t d : shape) tensor->add_shape(d);
  tensor->set_data(values.data(), values.size() * sizeof(float));
  return request;
}

// A request carrying the encoded bytes of `path`; empty bytes when the file cannot be read.
fovea::v1::ClassifyRequest MakeImageRequest(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  fovea::v1::ClassifyRequest request;
  request.add_images()->set_encoded(std::string(std::istreambuf_iterator<char>(file), {}));
  return request;
}

double Percentile(std::vector<double>& sorted, double q) {
  return sorted[static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5)];
}

// The floor under every Classify figure: a unary call that does almost nothing on the server (ListModels).
void MeasureRoundTrip(const fovea::client::FoveaClient& client, int64_t samples) {
  std::vector<double> latencies;
  fovea::v1::ListModelsResponse response;
  for (int64_t i = 0; i < samples; ++i) {
    const auto t0 = Clock::now();
    (void)client.ListModels(&response);
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::sort(latencies.begin(), latencies.end());
  std::printf("{\"rpc\": \"ListModels\", \"p50_ms\": %.4f, \"p99_ms\": %.4f, \"requests\": %zu}\n",
              Percentile(latencies, 0.5), Percentile(latencies, 0.99), latencies.size());
}

// The measured call, made by client slot `slot` (each slot has its own response): blocking, returning whether it
// succeeded, or started, reporting success to `done` from a gRPC thread.
struct MeasuredRpc {
  std::function<bool(size_t slot)> call;
  std::function<void(size_t slot, std::function<void(bool ok)> done)> start;
};

MeasuredRpc ClassifyRpc(const fovea::client::FoveaClient& client, const fovea::v1::ClassifyRequest& request,
                        size_t slots) {
  auto responses = std::make_shared<std::vector<fovea::v1::ClassifyResponse>>(slots);
  const auto answered = [](const fovea::v1::ClassifyResponse& r) {
    return r.results_size() == 1 && !r.results(0).has_error();
  };
  return {[&client, &request, responses, answered](size_t slot) {
            fovea::v1::ClassifyResponse& response = (*responses)[slot];
            return client.Classify(request, &response).ok() && answered(response);
          },
          [&client, &request, responses, answered](size_t slot, std::function<void(bool)> done) {
            fovea::v1::ClassifyResponse& response = (*responses)[slot];
            client.StartClassify(request, &response, [&response, answered, done](const grpc::Status& status) {
              done(status.ok() && answered(response));
            });
          }};
}

MeasuredRpc ServerLiveRpc(const std::string& server, size_t slots) {
  std::shared_ptr<inference::GRPCInferenceService::Stub> stub =
      inference::GRPCInferenceService::NewStub(grpc::CreateChannel(server, grpc::InsecureChannelCredentials()));
  auto responses = std::make_shared<std::vector<inference::ServerLiveResponse>>(slots);
  return {[stub, responses](size_t slot) {
            grpc::ClientContext context;
            return stub->ServerLive(&context, inference::ServerLiveRequest(), &(*responses)[slot]).ok();
          },
          [stub, responses](size_t slot, std::function<void(bool)> done) {
            auto context = std::make_shared<grpc::ClientContext>();
            static const inference::ServerLiveRequest kRequest;
            stub->async()->ServerLive(context.get(), &kRequest, &(*responses)[slot],
                                      [context, done](const grpc::Status& status) mutable {
                                        done(status.ok());
                                        context.reset();
                                      });
          }};
}

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// What every slot records: the latency of each of its calls, and its failures.
struct SlotResults {
  std::vector<double> latencies_ms;
  int64_t errors = 0;
};

// `concurrency` threads, each making blocking calls while `more()` says so.
void RunBlocking(const MeasuredRpc& rpc, std::vector<SlotResults>& slots, const std::function<bool()>& more) {
  std::vector<std::thread> workers;
  for (size_t w = 0; w < slots.size(); ++w) {
    workers.emplace_back([&, w] {
      while (more()) {
        const auto t0 = Clock::now();
        const bool ok = rpc.call(w);
        slots[w].latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!ok) ++slots[w].errors;
      }
    });
  }
  for (auto& t : workers) t.join();
}

// One call in flight per slot, each started again from its completion while `more()` says so; returns when every
// slot has stopped. A slot's calls never overlap, so its results need no lock.
void RunInFlight(const MeasuredRpc& rpc, std::vector<SlotResults>& slots, const std::function<bool()>& more) {
  std::mutex mutex;
  std::condition_variable all_stopped;
  size_t running = slots.size();
  std::function<void(size_t)> start_next = [&](size_t slot) {
    if (!more()) {
      std::lock_guard lock(mutex);
      if (--running == 0) all_stopped.notify_one();
      return;
    }
    const auto t0 = Clock::now();
    rpc.start(slot, [&, slot, t0](bool ok) {
      slots[slot].latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (!ok) ++slots[slot].errors;
      start_next(slot);
    });
  };
  for (size_t slot = 0; slot < slots.size(); ++slot) start_next(slot);
  std::unique_lock lock(mutex);
  all_stopped.wait(lock, [&] { return running == 0; });
}

// Runs for `seconds`, or until `requests` calls were sent when it is positive.
void RunConcurrency(const MeasuredRpc& rpc, bool in_flight, int64_t concurrency, double seconds, int64_t requests) {
  std::vector<SlotResults> slots(static_cast<size_t>(concurrency));
  std::atomic<int64_t> remaining{requests};
  const auto stop_at =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const std::function<bool()> more = [&] { return requests > 0 ? remaining.fetch_sub(1) > 0 : Clock::now() < stop_at; };
  const double cpu_before = ProcessCpuSeconds();
  const auto start = Clock::now();
  if (in_flight) {
    RunInFlight(rpc, slots, more);
  } else {
    RunBlocking(rpc, slots, more);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = ProcessCpuSeconds() - cpu_before;
  std::vector<double> all;
  int64_t errors = 0;
  for (const auto& slot : slots) {
    all.insert(all.end(), slot.latencies_ms.begin(), slot.latencies_ms.end());
    errors += slot.errors;
  }
  std::sort(all.begin(), all.end());
  std::printf(
      "{\"concurrency\": %ld, \"requests_per_s\": %.1f, \"p50_ms\": %.4f, \"p99_ms\": %.4f, "
      "\"requests\": %zu, \"errors\": %ld, \"client_cpu_s\": %.3f, \"mode\": \"%s\"}\n",
      static_cast<long>(concurrency), static_cast<double>(all.size()) / elapsed, Percentile(all, 0.5),
      Percentile(all, 0.99), all.size(), static_cast<long>(errors), cpu, in_flight ? "async" : "sync");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {{"--server", "localhost:50051"},
                                              {"--model", ""},
                                              {"--input", "1,28,28"},
                                              {"--version", "0"},
                                              {"--image", ""},
                                              {"--concurrency", "1,8,32"},
                                              {"--seconds", "5"},
                                              {"--requests", "0"},
                                              {"--round-trips", "2000"},
                                              {"--mode", "sync"},
                                              {"--rpc", "classify"}};
  for (int i = 1; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  if (flags["--model"].empty()) {
    std::fprintf(stderr,
                 "usage: classify_bench --server HOST:PORT --model NAME [--version V] [--input C,H,W | --image FILE] "
                 "[--concurrency 1,8,32] [--seconds 5 | --requests N] [--round-trips 2000] [--mode sync|async] "
                 "[--rpc classify|server-live]\n");
    return 2;
  }
  if (flags["--mode"] != "sync" && flags["--mode"] != "async") {
    std::fprintf(stderr, "--mode must be sync or async, got '%s'\n", flags["--mode"].c_str());
    return 2;
  }
  if (flags["--rpc"] != "classify" && flags["--rpc"] != "server-live") {
    std::fprintf(stderr, "--rpc must be classify or server-live, got '%s'\n", flags["--rpc"].c_str());
    return 2;
  }
  auto client = fovea::client::FoveaClient::Connect(flags["--server"]);
  fovea::v1::ClassifyRequest request =
      flags["--image"].empty() ? MakeTensorRequest(ParseList(flags["--input"])) : MakeImageRequest(flags["--image"]);
  if (!flags["--image"].empty() && request.images(0).encoded().empty()) {
    std::fprintf(stderr, "cannot read %s (or it is empty)\n", flags["--image"].c_str());
    return 2;
  }
  request.set_model_name(flags["--model"]);
  request.set_model_version(std::stoll(flags["--version"]));
  request.set_top_k(1);
  fovea::v1::ClassifyResponse response;
  for (int i = 0; i < kWarmupRequests; ++i) {
    const grpc::Status status = client->Classify(request, &response);
    if (!status.ok()) {
      std::fprintf(stderr, "warm-up request failed: %s\n", status.error_message().c_str());
      return 1;
    }
  }
  if (const int64_t samples = std::stoll(flags["--round-trips"]); samples > 0) MeasureRoundTrip(*client, samples);
  for (int64_t concurrency : ParseList(flags["--concurrency"])) {
    const auto slots = static_cast<size_t>(concurrency);
    const MeasuredRpc rpc =
        flags["--rpc"] == "classify" ? ClassifyRpc(*client, request, slots) : ServerLiveRpc(flags["--server"], slots);
    RunConcurrency(rpc, flags["--mode"] == "async", concurrency, std::stod(flags["--seconds"]),
                   std::stoll(flags["--requests"]));
  }
  return 0;
}
