// engine_bench: throughput and latency of one ONNX model in the Fovea engine, batch by batch. Threads come from
// OMP_NUM_THREADS (oneDNN's OpenMP runtime), so a driver script can compare 1 and 2 threads.
//
// usage: engine_bench MODEL [--batches 1,8,64,256] [--seconds 3] [--input C,H,W] [--precision fp32|bf16] [--mix]
//                     [--idle-context-mib N]
// prints one JSON object per batch size: images/s, p50 and p99 latency in milliseconds, runs, precision.
// --mix runs the batch sizes in turn instead, one run of each per cycle, as a batching server alternates between
// them, and prints one JSON object with the images/s of the whole mix, and the bytes of execution contexts the session
// kept idle at the end. --idle-context-mib bounds those (engine/context_pool.h; default its default), to measure what
// the bound costs a mix whose contexts do not all fit.
// A quantized model (QuantizeLinear/DequantizeLinear around its convolutions) runs them in int8 whatever --precision
// says; its JSON says "int8".

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/session.h"
#include "modelio/onnx_import.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kWarmupRuns = 3;

std::vector<int64_t> ParseList(const std::string& text) {
  std::vector<int64_t> values;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ',')) values.push_back(std::stoll(part));
  return values;
}

double Percentile(std::vector<double> samples, double q) {
  std::sort(samples.begin(), samples.end());
  const auto index = static_cast<size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[index];
}

// Random input of `batch` items of shape `item`, the same for every benchmark.
fovea::engine::Tensor RandomBatch(const fovea::engine::Shape& item, int64_t batch) {
  fovea::engine::Shape shape = item;
  shape.insert(shape.begin(), batch);
  fovea::engine::Tensor input(fovea::engine::DataType::kFloat32, shape);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(0.0f, 1.0f);
  for (float& v : input.floats()) v = dist(rng);
  return input;
}

void BenchBatch(const fovea::engine::Session& session, const fovea::engine::Shape& item, int64_t batch, double seconds,
                const char* precision) {
  const fovea::engine::Tensor input = RandomBatch(item, batch);
  const std::span<const fovea::engine::Tensor> inputs(&input, 1);
  for (int i = 0; i < kWarmupRuns; ++i) (void)session.Run(inputs);
  std::vector<double> latencies_ms;
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds || latencies_ms.size() < 10) {
    const auto t0 = Clock::now();
    auto out = session.Run(inputs);
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!out.ok()) {
      std::fprintf(stderr, "run failed: %s\n", out.status().ToString().c_str());
      return;
    }
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "{\"batch\": %ld, \"images_per_s\": %.1f, \"p50_ms\": %.4f, \"p99_ms\": %.4f, \"runs\": %zu, "
      "\"precision\": \"%s\"}\n",
      static_cast<long>(batch), static_cast<double>(batch * static_cast<int64_t>(latencies_ms.size())) / total_s,
      Percentile(latencies_ms, 0.5), Percentile(latencies_ms, 0.99), latencies_ms.size(), precision);
  std::fflush(stdout);
}

void BenchMix(const fovea::engine::Session& session, const fovea::engine::Shape& item,
              const std::vector<int64_t>& batches, double seconds, const char* precision) {
  std::vector<fovea::engine::Tensor> inputs;
  for (int64_t batch : batches) inputs.push_back(RandomBatch(item, batch));
  for (const auto& input : inputs) (void)session.Run({&input, 1});
  int64_t images = 0;
  int64_t cycles = 0;
  const auto start = Clock::now();
  while (std::chrono::duration<double>(Clock::now() - start).count() < seconds || cycles < 10) {
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (auto out = session.Run({&inputs[i], 1}); !out.ok()) {
        std::fprintf(stderr, "run failed: %s\n", out.status().ToString().c_str());
        return;
      }
      images += batches[i];
    }
    ++cycles;
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::string mix;
  for (int64_t batch : batches) {
    if (!mix.empty()) mix += ',';
    mix += std::to_string(batch);
  }
  std::printf(
      "{\"mix\": \"%s\", \"images_per_s\": %.1f, \"cycles\": %ld, \"precision\": \"%s\", \"idle_context_mib\": %.1f, "
      "\"idle_context_limit_mib\": %.1f}\n",
      mix.c_str(), static_cast<double>(images) / total_s, static_cast<long>(cycles), precision,
      static_cast<double>(session.contexts().idle_bytes()) / (1 << 20),
      static_cast<double>(session.contexts().limit()) / (1 << 20));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: engine_bench MODEL [--batches 1,8,64,256] [--seconds 3] [--input C,H,W] "
                 "[--precision fp32|bf16] [--mix] [--idle-context-mib N]\n");
    return 2;
  }
  std::vector<int64_t> batches = {1, 8, 64, 256};
  std::vector<int64_t> item = {1, 28, 28};
  double seconds = 3.0;
  fovea::engine::ModelOptions options;
  bool mix = false;
  size_t idle_context_bytes = fovea::engine::kDefaultIdleContextBytes;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--mix") {
      mix = true;
      continue;
    }
    if (i + 1 >= argc) break;
    ++i;
    if (flag == "--batches") batches = ParseList(argv[i]);
    if (flag == "--seconds") seconds = std::stod(argv[i]);
    if (flag == "--input") item = ParseList(argv[i]);
    if (flag == "--idle-context-mib") idle_context_bytes = std::stoull(argv[i]) << 20;
    if (flag == "--precision") {
      auto precision = fovea::engine::ParsePrecision(argv[i]);
      if (!precision.ok()) {
        std::fprintf(stderr, "--precision: %s\n", precision.status().ToString().c_str());
        return 2;
      }
      options.precision = *precision;
    }
  }
  auto model = fovea::modelio::LoadOnnxModel(argv[1], options);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
    return 1;
  }
  auto session = fovea::engine::Session::Create(*model, fovea::engine::kDefaultMaxCachedPlans, idle_context_bytes);
  if (!session.ok()) return 1;
  const char* precision = (*model)->quantized() ? "int8" : PrecisionName(options.precision);
  if (mix) {
    BenchMix(**session, item, batches, seconds, precision);
    return 0;
  }
  for (int64_t batch : batches) BenchBatch(**session, item, batch, seconds, precision);
  return 0;
}
