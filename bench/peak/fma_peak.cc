// fma_peak: this machine's FP32 peak, measured with independent AVX-512 FMA chains on 1..N threads. It is the
// denominator of the engine's "fraction of peak" figure in bench/RESULTS.md.
//
// usage: fma_peak [max_threads]

#include <immintrin.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

constexpr int kAccumulators = 12;  // enough independent chains to hide FMA latency on two FMA ports
constexpr long kIterations = 200'000'000;
constexpr double kFlopsPerFma = 2.0 * 16;  // 16 float lanes, multiply + add

float FmaChains(long iterations) {
  __m512 acc[kAccumulators];
  for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 a = _mm512_set1_ps(0.999999f);
  const __m512 b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < iterations; ++it) {
    // Fully unrolled so every chain lives in a register; a loop over the array would be bound by stack traffic.
#pragma GCC unroll 16
    for (int i = 0; i < kAccumulators; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < kAccumulators; ++i) sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  float total = 0;
  for (float lane : lanes) total += lane;
  return total;
}

double MeasureGflops(int threads) {
  const long per_thread = kIterations / 4;
  std::vector<std::thread> pool;
  std::vector<float> sink(static_cast<size_t>(threads));
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sink[static_cast<size_t>(t)] = FmaChains(per_thread); });
  for (auto& th : pool) th.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  volatile float keep = sink[0];  // keeps the computation observable
  (void)keep;
  return static_cast<double>(per_thread) * kAccumulators * kFlopsPerFma * threads / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int max_threads = argc > 1 ? std::atoi(argv[1]) : static_cast<int>(std::thread::hardware_concurrency());
  for (int threads = 1; threads <= max_threads; ++threads) {
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) best = std::max(best, MeasureGflops(threads));
    std::printf("{\"threads\": %d, \"fp32_gflops\": %.1f}\n", threads, best);
  }
  return 0;
}
