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
// answers at once, so its rate and CPU cost are gRPC's own floor on this machine. --rpc model-infer sends the same
// raw float32 tensor as an Open Inference Protocol ModelInfer call, and --rpc model-stream-infer as requests on
// ModelStreamInfer streams, one stream per client with one request in flight on each (a batch-1 client that sends
// its next request when the last one is answered, as Triton's perf_analyzer --streaming does).
//
// usage: classify_bench --server HOST:PORT --model NAME [--version V] [--input 1,28,28 | --image FILE]
//                       [--concurrency 1,8,32] [--seconds 5 | --requests N] [--round-trips 2000]
//                       [--mode sync|async] [--rpc classify|server-live|model-infer|model-stream-infer]
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
#include <memory>
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
// succeeded, or started, reporting success to `done` from a gRPC thread. `close` (when set) ends what the slots
// hold open after the run.
struct MeasuredRpc {
  std::function<bool(size_t slot)> call;
  std::function<void(size_t slot, std::function<void(bool ok)> done)> start;
  std::function<void()> close;
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
          },
          nullptr};
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
          },
          nullptr};
}

using OipStub = inference::GRPCInferenceService::Stub;

// The OIP request carrying `shape` (C,H,W) random floats as one image, like MakeTensorRequest's; the model's input name
// comes from ModelMetadata.
inference::ModelInferRequest MakeInferRequest(OipStub& stub, const std::string& model, const std::string& version,
                                              const fovea::v1::ClassifyRequest& tensor_request) {
  grpc::ClientContext context;
  inference::ModelMetadataRequest metadata_request;
  metadata_request.set_name(model);
  inference::ModelMetadataResponse metadata;
  const grpc::Status status = stub.ModelMetadata(&context, metadata_request, &metadata);
  if (!status.ok() || metadata.inputs_size() != 1) {
    std::fprintf(stderr, "ModelMetadata for '%s' failed: %s\n", model.c_str(), status.error_message().c_str());
    std::exit(1);
  }
  const fovea::v1::RawTensor& tensor = tensor_request.images(0).tensor();
  inference::ModelInferRequest request;
  request.set_model_name(model);
  if (version != "0") request.set_model_version(version);
  auto* input = request.add_inputs();
  input->set_name(metadata.inputs(0).name());
  input->set_datatype("FP32");
  input->add_shape(1);
  for (int64_t d : tensor.shape()) input->add_shape(d);
  request.add_raw_input_contents(tensor.data());
  return request;
}

MeasuredRpc ModelInferRpc(std::shared_ptr<OipStub> stub, const inference::ModelInferRequest& request, size_t slots) {
  auto responses = std::make_shared<std::vector<inference::ModelInferResponse>>(slots);
  return {[stub, &request, responses](size_t slot) {
            grpc::ClientContext context;
            return stub->ModelInfer(&context, request, &(*responses)[slot]).ok();
          },
          [stub, &request, responses](size_t slot, std::function<void(bool)> done) {
            auto context = std::make_shared<grpc::ClientContext>();
            stub->async()->ModelInfer(context.get(), &request, &(*responses)[slot],
                                      [context, done](const grpc::Status& status) mutable {
                                        done(status.ok());
                                        context.reset();
                                      });
          },
          nullptr};
}

// One ModelStreamInfer stream driven from gRPC's threads: Send writes a request and reads its answer, reporting to
// `done` whether it succeeded; Close half-closes and waits for the server to end the stream.
class AsyncStream final
    : public grpc::ClientBidiReactor<inference::ModelInferRequest, inference::ModelStreamInferResponse> {
 public:
  AsyncStream(OipStub& stub, const inference::ModelInferRequest& request) : request_(request) {
    stub.async()->ModelStreamInfer(&context_, this);
    StartCall();
  }

  // The answer can arrive before gRPC reports the write done, and a stream takes one write at a time: a request
  // counts as done when both have completed.
  void Send(std::function<void(bool)> done) {
    done_ = std::move(done);
    pending_ = 2;
    ok_ = true;
    StartRead(&response_);
    StartWrite(&request_);
  }

  void OnReadDone(bool ok) override { Completed(ok && response_.error_message().empty()); }
  void OnWriteDone(bool ok) override { Completed(ok); }

  void Close() {
    StartWritesDone();
    std::unique_lock lock(mutex_);
    ended_.wait(lock, [this] { return finished_; });
  }

  void OnDone(const grpc::Status& /*status*/) override {
    std::lock_guard lock(mutex_);
    finished_ = true;
    ended_.notify_all();
  }

 private:
  void Completed(bool ok) {
    if (!ok) ok_ = false;
    if (pending_.fetch_sub(1) == 1) done_(ok_);
  }

  const inference::ModelInferRequest& request_;
  grpc::ClientContext context_;
  inference::ModelStreamInferResponse response_;
  std::function<void(bool)> done_;
  std::atomic<int> pending_{0};
  std::atomic<bool> ok_{true};
  std::mutex mutex_;
  std::condition_variable ended_;
  bool finished_ = false;
};

// One blocking ModelStreamInfer stream per slot (--mode sync), or one AsyncStream per slot (--mode async).
MeasuredRpc ModelStreamInferRpc(std::shared_ptr<OipStub> stub, const inference::ModelInferRequest& request,
                                size_t slots, bool in_flight) {
  using SyncStream = grpc::ClientReaderWriter<inference::ModelInferRequest, inference::ModelStreamInferResponse>;
  struct Slots {
    std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
    std::vector<std::unique_ptr<SyncStream>> sync;
    std::vector<std::unique_ptr<AsyncStream>> async;
    std::vector<inference::ModelStreamInferResponse> responses;
  };
  auto open = std::make_shared<Slots>();
  open->responses.resize(slots);
  for (size_t slot = 0; slot < slots; ++slot) {
    if (in_flight) {
      open->async.push_back(std::make_unique<AsyncStream>(*stub, request));
    } else {
      open->contexts.push_back(std::make_unique<grpc::ClientContext>());
      open->sync.push_back(stub->ModelStreamInfer(open->contexts.back().get()));
    }
  }
  return {[open, &request](size_t slot) {
            inference::ModelStreamInferResponse& response = open->responses[slot];
            return open->sync[slot]->Write(request) && open->sync[slot]->Read(&response) &&
                   response.error_message().empty();
          },
          [open](size_t slot, std::function<void(bool)> done) { open->async[slot]->Send(std::move(done)); },
          [open] {
            for (auto& stream : open->sync) {
              stream->WritesDone();
              (void)stream->Finish();
            }
            for (auto& stream : open->async) stream->Close();
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
                 "[--rpc classify|server-live|model-infer|model-stream-infer]\n");
    return 2;
  }
  if (flags["--mode"] != "sync" && flags["--mode"] != "async") {
    std::fprintf(stderr, "--mode must be sync or async, got '%s'\n", flags["--mode"].c_str());
    return 2;
  }
  const std::string rpc_name = flags["--rpc"];
  if (rpc_name != "classify" && rpc_name != "server-live" && rpc_name != "model-infer" &&
      rpc_name != "model-stream-infer") {
    std::fprintf(stderr, "--rpc must be classify, server-live, model-infer or model-stream-infer, got '%s'\n",
                 rpc_name.c_str());
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
  const bool in_flight = flags["--mode"] == "async";
  std::shared_ptr<OipStub> oip = inference::GRPCInferenceService::NewStub(
      grpc::CreateChannel(flags["--server"], grpc::InsecureChannelCredentials()));
  if (!flags["--image"].empty() && (rpc_name == "model-infer" || rpc_name == "model-stream-infer")) {
    std::fprintf(stderr, "--rpc %s sends a raw tensor (--input), not --image\n", rpc_name.c_str());
    return 2;
  }
  const inference::ModelInferRequest infer_request =
      rpc_name == "model-infer" || rpc_name == "model-stream-infer"
          ? MakeInferRequest(*oip, flags["--model"], flags["--version"], request)
          : inference::ModelInferRequest();
  for (int64_t concurrency : ParseList(flags["--concurrency"])) {
    const auto slots = static_cast<size_t>(concurrency);
    MeasuredRpc rpc;
    if (rpc_name == "classify") {
      rpc = ClassifyRpc(*client, request, slots);
    } else if (rpc_name == "server-live") {
      rpc = ServerLiveRpc(flags["--server"], slots);
    } else if (rpc_name == "model-infer") {
      rpc = ModelInferRpc(oip, infer_request, slots);
    } else {
      rpc = ModelStreamInferRpc(oip, infer_request, slots, in_flight);
    }
    RunConcurrency(rpc, in_flight, concurrency, std::stod(flags["--seconds"]), std::stoll(flags["--requests"]));
    if (rpc.close) rpc.close();
  }
  return 0;
}
