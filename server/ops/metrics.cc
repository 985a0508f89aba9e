#include "server/ops/metrics.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <sstream>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace fovea::server {
namespace {

// Durations from 50 µs (a no-op call) to 10 s (a large batch on a busy machine), about 2.5× apart.
const prometheus::Histogram::BucketBoundaries& DurationBucketsUs() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};
  return buckets;
}

// Powers of two: the batch sizes a dynamic batcher typically forms.
const prometheus::Histogram::BucketBoundaries& BatchSizeBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  return buckets;
}

// The calls Triton's statistics count: those that run the model through its batcher.
constexpr std::string_view kInferenceRpcs[] = {"Classify", "ModelInfer", "ModelStreamInfer", "rest.ModelInfer"};

bool IsInferenceRpc(std::string_view rpc) {
  return std::find(std::begin(kInferenceRpcs), std::end(kInferenceRpcs), rpc) != std::end(kInferenceRpcs);
}

uint64_t NowMsSinceEpoch() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

template <typename Builder>
auto& Register(Builder builder, const char* name, const char* help, prometheus::Registry& registry) {
  return builder.Name(name).Help(help).Register(registry);
}

}  // namespace

void ModelMetrics::AddPending(int64_t delta) { pending_->Increment(static_cast<double>(delta)); }

void ModelMetrics::AtomicTotal::Add(double us) {
  count.fetch_add(1, std::memory_order_relaxed);
  ns.fetch_add(static_cast<uint64_t>(std::max(us, 0.0) * 1000.0), std::memory_order_relaxed);
}

DurationTotal ModelMetrics::AtomicTotal::Load() const {
  return {count.load(std::memory_order_relaxed), ns.load(std::memory_order_relaxed)};
}

void ModelMetrics::ObserveQueue(double queue_us) {
  queue_us_->Observe(queue_us);
  queue_.Add(queue_us);
}

void ModelMetrics::ObserveExecution(int64_t images, double compute_us) {
  executions_->Increment();
  inferences_->Increment(static_cast<double>(images));
  batch_size_->Observe(static_cast<double>(images));
  compute_us_->Observe(compute_us);
  compute_infer_.Add(compute_us);
  execution_count_.fetch_add(1, std::memory_order_relaxed);
  inference_count_.fetch_add(static_cast<uint64_t>(images), std::memory_order_relaxed);
}

void ModelMetrics::ObserveCall(bool succeeded, double duration_us) {
  (succeeded ? success_ : fail_).Add(duration_us);
  last_inference_ms_.store(NowMsSinceEpoch(), std::memory_order_relaxed);
}

VersionStatistics ModelMetrics::Statistics() const {
  VersionStatistics statistics;
  statistics.success = success_.Load();
  statistics.fail = fail_.Load();
  statistics.queue = queue_.Load();
  statistics.compute_infer = compute_infer_.Load();
  statistics.inference_count = inference_count_.load(std::memory_order_relaxed);
  statistics.execution_count = execution_count_.load(std::memory_order_relaxed);
  statistics.last_inference_ms = last_inference_ms_.load(std::memory_order_relaxed);
  return statistics;
}

Metrics::Metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  prometheus::Registry& r = *registry_;
  success_ =
      &Register(prometheus::BuildCounter(), "fovea_request_success_total", "Calls answered OK, by model and RPC.", r);
  failure_ = &Register(prometheus::BuildCounter(), "fovea_request_failure_total",
                       "Calls answered with an error, by model, RPC and reason (the gRPC code).", r);
  inferences_ = &Register(prometheus::BuildCounter(), "fovea_inference_count_total",
                          "Images run through the model (summed over batches).", r);
  executions_ = &Register(prometheus::BuildCounter(), "fovea_execution_count_total",
                          "Engine runs (batches); inference_count / execution_count is the average batch size.", r);
  pending_ = &Register(prometheus::BuildGauge(), "fovea_pending_requests",
                       "Requests waiting in the model's batcher queue.", r);
  queue_us_ = &Register(prometheus::BuildHistogram(), "fovea_queue_duration_us",
                        "Time a request waited in the batcher queue, microseconds.", r);
  compute_us_ = &Register(prometheus::BuildHistogram(), "fovea_compute_duration_us",
                          "Time of one engine run (one batch), microseconds.", r);
  request_us_ = &Register(prometheus::BuildHistogram(), "fovea_request_duration_us",
                          "Time from receiving a call to answering it, microseconds.", r);
  batch_size_ = &Register(prometheus::BuildHistogram(), "fovea_batch_size",
                          "Images per engine run (zero images padding a batch to a compiled size not counted).", r);
  models_loaded_ = &Register(prometheus::BuildGauge(), "fovea_models_loaded", "Model versions loaded.", r).Add({});
}

Metrics::~Metrics() = default;

Status Metrics::Serve(const std::string& host, int port) {
  const std::string address = host + ":" + std::to_string(port);
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(address);
  } catch (const std::exception& error) {
    return {StatusCode::kUnavailable, "cannot listen on " + address + " for metrics: " + error.what()};
  }
  exposer_->RegisterCollectable(registry_);
  return OkStatus();
}

ModelMetrics& Metrics::ForModel(const std::string& name, int64_t version) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<ModelMetrics>& model = models_[{name, version}];
  if (model == nullptr) {
    model = std::make_unique<ModelMetrics>();
    const prometheus::Labels labels = {{"model", name}};
    model->pending_ = &pending_->Add(labels);
    model->queue_us_ = &queue_us_->Add(labels, DurationBucketsUs());
    model->compute_us_ = &compute_us_->Add(labels, DurationBucketsUs());
    model->batch_size_ = &batch_size_->Add(labels, BatchSizeBuckets());
    model->inferences_ = &inferences_->Add(labels);
    model->executions_ = &executions_->Add(labels);
  }
  return *model;
}

const Metrics::RequestSeries& Metrics::SeriesFor(std::string_view model, std::string_view rpc, bool succeeded) {
  auto by_model = request_series_.find(model);
  if (by_model == request_series_.end()) by_model = request_series_.emplace(model, SeriesByRpc()).first;
  auto by_rpc = by_model->second.find(rpc);
  if (by_rpc == by_model->second.end()) by_rpc = by_model->second.emplace(rpc, RequestSeries()).first;
  RequestSeries& series = by_rpc->second;
  const auto labels = [&] { return prometheus::Labels{{"model", std::string(model)}, {"rpc", std::string(rpc)}}; };
  if (series.duration_us == nullptr) series.duration_us = &request_us_->Add(labels(), DurationBucketsUs());
  if (succeeded && series.success == nullptr) series.success = &success_->Add(labels());
  return series;
}

void Metrics::RecordRequest(std::string_view model, int64_t version, std::string_view rpc, StatusCode code,
                            double duration_us) {
  const bool succeeded = code == StatusCode::kOk;
  if (version > 0 && IsInferenceRpc(rpc)) ForModel(std::string(model), version).ObserveCall(succeeded, duration_us);
  std::lock_guard lock(mutex_);
  const RequestSeries& series = SeriesFor(model, rpc, succeeded);
  if (succeeded) {
    series.success->Increment();
  } else {
    // Failures are rare and carry one more label (the reason); they take prometheus-cpp's own lookup.
    failure_->Add({{"model", std::string(model)}, {"rpc", std::string(rpc)}, {"reason", StatusCodeName(code)}})
        .Increment();
  }
  series.duration_us->Observe(duration_us);
}

void Metrics::SetModelsLoaded(int64_t count) { models_loaded_->Set(static_cast<double>(count)); }

std::string Metrics::Render() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace fovea::server
