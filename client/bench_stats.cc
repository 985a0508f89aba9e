#include "client/bench_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "client/result_output.h"

namespace fovea::client {

double Percentile(const std::vector<double>& sorted, double percent) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(percent / 100.0 * static_cast<double>(sorted.size()));
  const auto index = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(sorted.size()))) - 1;
  return sorted[index];
}

LatencySummary Summarize(std::vector<double> latencies_ms) {
  LatencySummary summary;
  if (latencies_ms.empty()) return summary;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  summary.count = static_cast<int64_t>(latencies_ms.size());
  summary.min_ms = latencies_ms.front();
  summary.max_ms = latencies_ms.back();
  summary.mean_ms = std::accumulate(latencies_ms.begin(), latencies_ms.end(), 0.0) / static_cast<double>(summary.count);
  summary.p50_ms = Percentile(latencies_ms, 50);
  summary.p90_ms = Percentile(latencies_ms, 90);
  summary.p99_ms = Percentile(latencies_ms, 99);
  return summary;
}

int64_t BenchReport::requests_failed() const {
  int64_t failed = 0;
  for (const auto& [code, count] : errors) failed += count;
  return failed;
}

double BenchReport::requests_per_second() const { return seconds > 0 ? static_cast<double>(requests_ok) / seconds : 0; }

double BenchReport::images_per_second() const { return requests_per_second() * batch_size; }

std::string FormatBenchText(const BenchReport& report) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(2);
  out << "server " << report.server << ", model " << report.model << ", " << report.rpc << ", " << report.input
      << " images, batch " << report.batch_size << ", concurrency " << report.concurrency << ", rate ";
  if (report.target_rate > 0) {
    out << report.target_rate << " req/s\n";
  } else {
    out << "unlimited (closed loop)\n";
  }
  out << "requests:   " << report.requests_ok << " ok, " << report.requests_failed() << " failed in " << report.seconds
      << " s\n"
      << "throughput: " << report.requests_per_second() << " req/s, " << report.images_per_second() << " images/s\n"
      << "latency ms: p50 " << report.latency.p50_ms << ", p90 " << report.latency.p90_ms << ", p99 "
      << report.latency.p99_ms << ", max " << report.latency.max_ms << " (min " << report.latency.min_ms << ", mean "
      << report.latency.mean_ms << ")\n";
  for (const auto& [code, count] : report.errors) out << "errors:     " << code << " " << count << "\n";
  return out.str();
}

std::string FormatBenchJson(const BenchReport& report) {
  std::ostringstream out;
  out.precision(6);
  const auto text = JsonString;
  out << "{\"server\": " << text(report.server) << ", \"model\": " << text(report.model)
      << ", \"rpc\": " << text(report.rpc) << ", \"input\": " << text(report.input)
      << ", \"concurrency\": " << report.concurrency << ", \"batch_size\": " << report.batch_size
      << ", \"target_rate\": " << report.target_rate << ", \"seconds\": " << report.seconds
      << ", \"requests\": {\"ok\": " << report.requests_ok << ", \"failed\": " << report.requests_failed()
      << "}, \"throughput\": {\"requests_per_second\": " << report.requests_per_second()
      << ", \"images_per_second\": " << report.images_per_second()
      << "}, \"latency_ms\": {\"count\": " << report.latency.count << ", \"min\": " << report.latency.min_ms
      << ", \"mean\": " << report.latency.mean_ms << ", \"p50\": " << report.latency.p50_ms
      << ", \"p90\": " << report.latency.p90_ms << ", \"p99\": " << report.latency.p99_ms
      << ", \"max\": " << report.latency.max_ms << "}, \"errors\": {";
  const char* separator = "";
  for (const auto& [code, count] : report.errors) {
    out << separator << text(code) << ": " << count;
    separator = ", ";
  }
  out << "}}\n";
  return out.str();
}

}  // namespace fovea::client
