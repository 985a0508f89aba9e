#pragma once
// The statistics `fovea bench` reports: latency percentiles, throughput and errors by gRPC code, as text or JSON.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace fovea::client {

// Latencies of the requests that succeeded, in milliseconds. All zero when there were none.
struct LatencySummary {
  int64_t count = 0;
  double min_ms = 0;
  double mean_ms = 0;
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

// The nearest-rank percentile (`percent` in (0, 100]) of `sorted` (ascending): the smallest value with at least
// `percent`% of the values at or below it. 0 for an empty vector.
double Percentile(const std::vector<double>& sorted, double percent);

// Sorts `latencies_ms` and summarizes it.
LatencySummary Summarize(std::vector<double> latencies_ms);

// One bench run: what was asked for and what happened.
struct BenchReport {
  std::string server;
  std::string model;
  std::string rpc = "Classify";  // what each request was: "Classify" or "ModelStreamInfer"
  std::string input;             // "encoded" or "raw"
  int concurrency = 0;
  int batch_size = 0;
  double target_rate = 0;  // requests per second; 0 = as fast as the server answers
  double seconds = 0;      // wall time of the measured phase
  int64_t requests_ok = 0;
  std::map<std::string, int64_t> errors;  // gRPC code name → failed requests
  LatencySummary latency;

  int64_t requests_failed() const;
  double requests_per_second() const;
  double images_per_second() const;  // images of successful requests
};

// Human-readable report, one figure per line.
std::string FormatBenchText(const BenchReport& report);

// The report as one JSON object: {"server", "model", "input", "concurrency", "batch_size", "target_rate",
// "seconds", "requests": {"ok", "failed"}, "throughput": {"requests_per_second", "images_per_second"},
// "latency_ms": {"count", "min", "mean", "p50", "p90", "p99", "max"}, "errors": {"CODE": count, ...}}.
std::string FormatBenchJson(const BenchReport& report);

}  // namespace fovea::client
