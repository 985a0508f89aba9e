#pragma once
// Metrics: the server's Prometheus registry and the narrow interface the rest of the server reports through. Names
// are `fovea_*` and documented in the README (metrics table); durations are in microseconds.
//
// Beside the Prometheus series (by model name), each model version keeps the totals of Triton's statistics extension
// (ModelStatistics, /v2/models/{m}/stats), updated by the same observations, so the two never disagree.
//
// Threading: every method may be called from any thread. ForModel() returns a reference that stays valid for the
// lifetime of the Metrics object (model series are never removed, so a reloaded model keeps its counts).

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.h"

namespace prometheus {
class Counter;
class Exposer;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace fovea::server {

// A count of events and the nanoseconds they took in all.
struct DurationTotal {
  uint64_t count = 0;
  uint64_t ns = 0;
};

// Triton's statistics of one model version since the server started: inference calls answered OK (`success`) or
// not (`fail`) with their time from arrival to answer, their time in the batcher's queue, the engine runs with their
// time (`compute_infer`), images inferred and engine runs, and when the last call was answered (ms since the epoch).
struct VersionStatistics {
  DurationTotal success;
  DurationTotal fail;
  DurationTotal queue;
  DurationTotal compute_infer;
  uint64_t inference_count = 0;
  uint64_t execution_count = 0;
  uint64_t last_inference_ms = 0;
};

// The series of one model version: what its batcher and its requests report.
class ModelMetrics {
 public:
  // Items entered (+) or left (-) the batcher's queue.
  void AddPending(int64_t delta);
  // One item left the queue after waiting `queue_us`.
  void ObserveQueue(double queue_us);
  // One engine run over `images` images took `compute_us`.
  void ObserveExecution(int64_t images, double compute_us);
  // One inference call on this version finished with `succeeded` after `duration_us`.
  void ObserveCall(bool succeeded, double duration_us);

  // The totals so far.
  VersionStatistics Statistics() const;

 private:
  friend class Metrics;
  // Each total is a pair of atomics: a reader may see a count and a time from slightly different moments, as
  // Prometheus readers may; never a torn value.
  struct AtomicTotal {
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> ns{0};
    void Add(double us);
    DurationTotal Load() const;
  };
  AtomicTotal success_;
  AtomicTotal fail_;
  AtomicTotal queue_;
  AtomicTotal compute_infer_;
  std::atomic<uint64_t> inference_count_{0};
  std::atomic<uint64_t> execution_count_{0};
  std::atomic<uint64_t> last_inference_ms_{0};

  prometheus::Gauge* pending_ = nullptr;
  prometheus::Histogram* queue_us_ = nullptr;
  prometheus::Histogram* compute_us_ = nullptr;
  prometheus::Histogram* batch_size_ = nullptr;
  prometheus::Counter* inferences_ = nullptr;
  prometheus::Counter* executions_ = nullptr;
};

class Metrics {
 public:
  // A registry with every family registered; nothing is served until Serve().
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves the text format at http://`host`:`port`/metrics. UNAVAILABLE naming the address when it cannot listen.
  Status Serve(const std::string& host, int port);

  // The series of version `version` of model `name` (created on first use; the Prometheus series are the model's,
  // shared by its versions).
  ModelMetrics& ForModel(const std::string& name, int64_t version);

  // One finished call of `rpc` on `model` ("" when the request named no servable model) at `version` (0 when none):
  // success or failure by `code` (its gRPC name is the `reason` label), and its duration. Inference calls (Classify,
  // ModelInfer over every transport) also count in the version's statistics.
  void RecordRequest(std::string_view model, int64_t version, std::string_view rpc, StatusCode code,
                     double duration_us);

  // How many model versions are loaded now.
  void SetModelsLoaded(int64_t count);

  // Everything in the Prometheus text exposition format (what /metrics answers).
  std::string Render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  prometheus::Family<prometheus::Counter>* success_ = nullptr;
  prometheus::Family<prometheus::Counter>* failure_ = nullptr;
  prometheus::Family<prometheus::Counter>* inferences_ = nullptr;
  prometheus::Family<prometheus::Counter>* executions_ = nullptr;
  prometheus::Family<prometheus::Gauge>* pending_ = nullptr;
  prometheus::Family<prometheus::Histogram>* queue_us_ = nullptr;
  prometheus::Family<prometheus::Histogram>* compute_us_ = nullptr;
  prometheus::Family<prometheus::Histogram>* request_us_ = nullptr;
  prometheus::Family<prometheus::Histogram>* batch_size_ = nullptr;
  prometheus::Gauge* models_loaded_ = nullptr;

  // The series every successful call of one (model, rpc) updates, looked up once: prometheus-cpp's Family::Add
  // builds a new metric (a histogram with all its buckets) before it finds the existing one, on every call.
  // Each is created on first use, so a (model, rpc) that never succeeded has no success series.
  struct RequestSeries {
    prometheus::Counter* success = nullptr;
    prometheus::Histogram* duration_us = nullptr;
  };
  using SeriesByRpc = std::map<std::string, RequestSeries, std::less<>>;
  // The series of (model, rpc), with the success counter when `succeeded`. Caller holds mutex_.
  const RequestSeries& SeriesFor(std::string_view model, std::string_view rpc, bool succeeded);

  std::mutex mutex_;
  std::map<std::pair<std::string, int64_t>, std::unique_ptr<ModelMetrics>, std::less<>> models_;
  // model → rpc → series; entries are never removed, so references stay valid.
  std::map<std::string, SeriesByRpc, std::less<>> request_series_;
};

}  // namespace fovea::server
