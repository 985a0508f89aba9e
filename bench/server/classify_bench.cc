// classify_bench: Classify latency and throughput over gRPC, batch 1, at several client concurrencies. By default each
// request carries one raw float32 tensor of the model's input shape, so the figures measure serving plus inference,
// not image decoding; with --image it carries that file's encoded bytes instead. Paired with engine_bench on the same
// model by bench/server/run.py to get the serving overhead; bench/compare/run.py drives fovea-server and a Python
// peer server with it. --requests N sends exactly N calls per concurrency instead of running for --seconds (for
// profiles whose counts must not depend on the machine's speed).
//
// usage: classify_bench --server HOST:PORT --model NAME [--version V] [--input 1,28,28 | --image FILE]
//                       [--concurrency 1,8,32] [--seconds 5 | --requests N] [--round-trips 2000]
// prints the ListModels round trip (--round-trips samples; 0 = skip it) and one JSON object per concurrency.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/fovea_client.h"

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

// Runs for `seconds`, or until `requests` calls were sent when it is positive.
void RunConcurrency(const fovea::client::FoveaClient& client, const fovea::v1::ClassifyRequest& request,
                    int64_t concurrency, double seconds, int64_t requests) {
  std::vector<std::vector<double>> latencies(static_cast<size_t>(concurrency));
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> remaining{requests};
  const auto stop_at =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const auto more = [&] { return requests > 0 ? remaining.fetch_sub(1) > 0 : Clock::now() < stop_at; };
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int64_t w = 0; w < concurrency; ++w) {
    workers.emplace_back([&, w] {
      fovea::v1::ClassifyResponse response;
      while (more()) {
        const auto t0 = Clock::now();
        const grpc::Status status = client.Classify(request, &response);
        latencies[static_cast<size_t>(w)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!status.ok() || response.results_size() != 1 || response.results(0).has_error()) ++errors;
      }
    });
  }
  for (auto& t : workers) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  std::printf(
      "{\"concurrency\": %ld, \"requests_per_s\": %.1f, \"p50_ms\": %.4f, \"p99_ms\": %.4f, "
      "\"requests\": %zu, \"errors\": %ld}\n",
      static_cast<long>(concurrency), static_cast<double>(all.size()) / elapsed, Percentile(all, 0.5),
      Percentile(all, 0.99), all.size(), static_cast<long>(errors.load()));
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
                                              {"--round-trips", "2000"}};
  for (int i = 1; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  if (flags["--model"].empty()) {
    std::fprintf(stderr,
                 "usage: classify_bench --server HOST:PORT --model NAME [--version V] [--input C,H,W | --image FILE] "
                 "[--concurrency 1,8,32] [--seconds 5 | --requests N] [--round-trips 2000]\n");
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
    RunConcurrency(*client, request, concurrency, std::stod(flags["--seconds"]), std::stoll(flags["--requests"]));
  }
  return 0;
}
