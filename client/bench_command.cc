// `fovea bench`: a load generator for fovea-server. Closed loop by default (every worker sends its next request as soon
// as the last one answers); with --rate the requests follow a fixed schedule and each latency is measured from the
// request's scheduled time, so a server that falls behind shows it in the percentiles instead of hiding it. Requests
// are unary fovea.v1 Classify calls, or with --stream the same images as Open Inference Protocol requests on one
// ModelStreamInfer stream per worker (as Triton's perf_analyzer --streaming sends them).

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <thread>

#include "client/bench_stats.h"
#include "client/commands.h"
#include "client/connection_flags.h"
#include "client/fovea_client.h"
#include "imageio/image.h"

namespace fovea::client {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kMaxConcurrency = 1024;
constexpr int kMaxBatchSize = 4096;
constexpr double kDefaultDurationSeconds = 10;
constexpr int kDefaultTimeoutSeconds = 30;
constexpr int kMaxDistinctRequests = 64;  // prebuilt requests cycled through when many image files are given

struct BenchOptions {
  ConnectionFlags connection;
  std::string server;  // the channel target the connection flags resolve to
  std::string model;
  int64_t version = 0;
  int concurrency = 4;
  double rate = 0;                         // requests per second over all workers; 0 = closed loop
  std::optional<double> duration_seconds;  // kDefaultDurationSeconds when neither it nor `requests` is given
  int64_t requests = 0;                    // when > 0, stop after this many requests instead of after the duration
  double warmup_seconds = 0;
  int batch_size = 1;
  bool raw = false;
  bool stream = false;  // ModelStreamInfer streams instead of unary Classify calls
  std::string json_path;
  std::vector<std::string> files;
};

// The flag table of `fovea bench`, bound to `o` (which must outlive it).
FlagSet BenchFlags(BenchOptions& o) {
  constexpr double kMaxSeconds = 7 * 24 * 3600;
  constexpr double kMaxRate = 1e7;
  constexpr double kMinDuration = 0.001;
  FlagSet flags(
      {.usage = "fovea bench [FLAGS] [IMAGE...]",
       .description =
           "Sends Classify requests to a server and reports throughput, latency percentiles (p50/p90/p99/max) "
           "and errors by gRPC code. Without IMAGE files it sends a generated image of the model's input "
           "size. The exit status is 1 when any request failed, 2 on a usage error.",
       .positionals = true});
  flags.Add(TextFlag("model", &o.model, "NAME", "Model to use.").Default("the server's only model"));
  flags.Add(IntegerFlag("version", &o.version, 0, INT64_MAX, "N", "Model version; 0 = latest."));
  flags.Add(IntegerFlag("concurrency", &o.concurrency, 1, kMaxConcurrency, "N", "Requests in flight."));
  flags.Add(NumberFlag("rate", &o.rate, 0, kMaxRate, "R",
                       "Requests per second in total, on a fixed schedule; latency counts from each request's "
                       "scheduled time; 0 = closed loop, as fast as answers come."));
  flags.Add(NumberFlag("duration", &o.duration_seconds, kMinDuration, kMaxSeconds, "SECONDS", "How long to measure.")
                .Default(NumberText(kDefaultDurationSeconds)));
  flags.Add(IntegerFlag("requests", &o.requests, 1, INT64_MAX, "N",
                        "Send exactly N requests instead of running for a duration."));
  flags.Add(
      NumberFlag("warmup", &o.warmup_seconds, 0, kMaxSeconds, "SECONDS", "Send load for this long first, unmeasured."));
  flags.Add(IntegerFlag("batch-size", &o.batch_size, 1, kMaxBatchSize, "N", "Images per request."));
  flags.Add(SwitchFlag("raw", &o.raw, "Decode here and send uint8 pixels instead of encoded files."));
  flags.Add(SwitchFlag("stream", &o.stream,
                       "Send Open Inference Protocol requests on one ModelStreamInfer stream per worker instead of "
                       "unary Classify calls (--timeout then does not apply)."));
  flags.Add(TextFlag("json", &o.json_path, "FILE", "Also write the report as JSON to FILE."));
  o.connection.timeout_seconds = kDefaultTimeoutSeconds;
  AddConnectionFlags(flags, o.connection);
  return flags;
}

// Encoded bytes (or, with --raw, decoded pixels) of one image, ready to be copied into requests.
StatusOr<v1::ImageInput> ImageFromBytes(const std::string& name, std::string bytes, bool raw) {
  v1::ImageInput input;
  input.set_id(name);
  if (!raw) {
    input.set_encoded(std::move(bytes));
    return input;
  }
  const auto decoded = imageio::Decode({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  if (!decoded.ok()) return Status(decoded.status().code(), name + ": " + decoded.status().message());
  v1::RawTensor* tensor = input.mutable_tensor();
  tensor->set_dtype(v1::DATA_TYPE_UINT8);
  for (int64_t dim : {decoded->height, decoded->width, decoded->channels}) tensor->add_shape(dim);
  tensor->set_data(decoded->pixels.data(), decoded->pixels.size());
  return input;
}

// A diagonal gradient of the model's input size, so generated load costs the server what a real image would.
StatusOr<std::string> GeneratedPng(int64_t width, int64_t height, int64_t channels) {
  imageio::Image image{width, height, channels, {}};
  image.pixels.resize(static_cast<size_t>(width * height * channels));
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width * channels; ++x) image.row(y)[x] = static_cast<uint8_t>((x + 3 * y) % 256);
  }
  return imageio::EncodePng(image);
}

StatusOr<std::vector<v1::ImageInput>> LoadImages(const FoveaClient& client, const BenchOptions& options,
                                                 const std::string& model) {
  std::vector<v1::ImageInput> images;
  for (const std::string& path : options.files) {
    std::ifstream file(path, std::ios::binary);
    if (!file) return Status(StatusCode::kNotFound, "cannot read " + path);
    std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    FOVEA_ASSIGN_OR_RETURN(v1::ImageInput input, ImageFromBytes(path, std::move(bytes), options.raw));
    images.push_back(std::move(input));
  }
  if (!images.empty()) return images;
  v1::GetModelResponse description;
  const grpc::Status status = client.GetModel(model, options.version, &description);
  if (!status.ok())
    return Status(StatusCode::kUnavailable, "cannot describe model " + model + ": " + status.error_message());
  const v1::InputSpec& spec = description.input();
  FOVEA_ASSIGN_OR_RETURN(std::string png, GeneratedPng(spec.width(), spec.height(), spec.channels()));
  FOVEA_ASSIGN_OR_RETURN(v1::ImageInput input, ImageFromBytes("generated", std::move(png), options.raw));
  images.push_back(std::move(input));
  return images;
}

// Requests of batch_size images each, cycling through `images` so every image is sent.
std::vector<v1::ClassifyRequest> BuildRequests(const std::vector<v1::ImageInput>& images, const BenchOptions& options,
                                               const std::string& model) {
  const size_t distinct = std::min(images.size(), static_cast<size_t>(kMaxDistinctRequests));
  std::vector<v1::ClassifyRequest> requests(distinct);
  for (size_t r = 0; r < distinct; ++r) {
    requests[r].set_model_name(model);
    requests[r].set_model_version(options.version);
    for (int i = 0; i < options.batch_size; ++i) {
      *requests[r].add_images() = images[(r * options.batch_size + static_cast<size_t>(i)) % images.size()];
    }
  }
  return requests;
}

// Appends `element` to BYTES raw contents: a 4-byte little-endian length, then the bytes.
void AppendLengthPrefixed(const std::string& element, std::string& raw) {
  const auto length = static_cast<uint32_t>(element.size());
  const unsigned char prefix[4] = {static_cast<unsigned char>(length), static_cast<unsigned char>(length >> 8),
                                   static_cast<unsigned char>(length >> 16), static_cast<unsigned char>(length >> 24)};
  raw.append(reinterpret_cast<const char*>(prefix), sizeof(prefix));
  raw += element;
}

// `request`'s images as one Open Inference Protocol request: encoded files as a BYTES [N] input, --raw pixels as a
// UINT8 [N, height, width, channels] input (so the images of one request must share a size).
StatusOr<inference::ModelInferRequest> ToInferRequest(const v1::ClassifyRequest& request,
                                                      const std::string& input_name) {
  inference::ModelInferRequest infer;
  infer.set_model_name(request.model_name());
  if (request.model_version() != 0) infer.set_model_version(std::to_string(request.model_version()));
  inference::ModelInferRequest::InferInputTensor* input = infer.add_inputs();
  input->set_name(input_name);
  input->add_shape(request.images_size());
  std::string& raw = *infer.add_raw_input_contents();
  const v1::ImageInput& first = request.images(0);
  input->set_datatype(first.has_tensor() ? "UINT8" : "BYTES");
  if (first.has_tensor()) {
    for (int64_t dim : first.tensor().shape()) input->add_shape(dim);
  }
  for (const v1::ImageInput& image : request.images()) {
    if (!first.has_tensor()) {
      AppendLengthPrefixed(image.encoded(), raw);
      continue;
    }
    if (!std::equal(image.tensor().shape().begin(), image.tensor().shape().end(), first.tensor().shape().begin(),
                    first.tensor().shape().end())) {
      return Status(StatusCode::kInvalidArgument,
                    "--stream --raw sends each request as one UINT8 tensor, so the "
                    "images of a request must have one size: " +
                        image.id() + " differs from " + first.id());
    }
    raw += image.tensor().data();
  }
  return infer;
}

// The Open Inference Protocol form of every request, with the input named as the server's ModelMetadata says.
StatusOr<std::vector<inference::ModelInferRequest>> BuildInferRequests(const FoveaClient& client,
                                                                       const std::vector<v1::ClassifyRequest>& requests,
                                                                       const BenchOptions& options,
                                                                       const std::string& model) {
  inference::ModelMetadataResponse metadata;
  const grpc::Status status =
      client.ModelMetadata(model, options.version == 0 ? "" : std::to_string(options.version), &metadata);
  if (!status.ok() || metadata.inputs_size() != 1) {
    return Status(StatusCode::kUnavailable, "cannot describe model " + model + ": " + status.error_message());
  }
  std::vector<inference::ModelInferRequest> infer_requests;
  for (const v1::ClassifyRequest& request : requests) {
    FOVEA_ASSIGN_OR_RETURN(inference::ModelInferRequest infer, ToInferRequest(request, metadata.inputs(0).name()));
    infer_requests.push_back(std::move(infer));
  }
  return infer_requests;
}

// The gRPC code named `name` ("RESOURCE_EXHAUSTED"), UNKNOWN for a name it does not know.
int CodeNamed(const std::string& name) {
  for (int code = grpc::StatusCode::OK; code <= grpc::StatusCode::UNAUTHENTICATED; ++code) {
    if (name == GrpcCodeName(code)) return code;
  }
  return grpc::StatusCode::UNKNOWN;
}

// One worker's ModelStreamInfer stream: Send writes request `k` and waits for its answer, returning the failure code
// (0 on success). A broken stream counts as its status's code, and the next request opens a new one.
class StreamSender {
 public:
  StreamSender(const FoveaClient& client, const std::vector<inference::ModelInferRequest>& requests)
      : client_(client), requests_(requests) {}
  StreamSender(const StreamSender&) = delete;
  StreamSender& operator=(const StreamSender&) = delete;
  ~StreamSender() {
    if (!stream_) return;
    stream_->WritesDone();
    (void)stream_->Finish();
  }

  int Send(int64_t k) {
    if (!stream_) {
      context_ = std::make_unique<grpc::ClientContext>();
      stream_ = client_.OpenInferStream(context_.get());
    }
    inference::ModelStreamInferResponse answer;
    if (stream_->Write(requests_[static_cast<size_t>(k) % requests_.size()]) && stream_->Read(&answer)) {
      if (answer.error_message().empty()) return 0;
      const auto code = answer.infer_response().parameters().find("error_code");
      return code == answer.infer_response().parameters().end() ? grpc::StatusCode::UNKNOWN
                                                                : CodeNamed(code->second.string_param());
    }
    const grpc::Status status = stream_->Finish();
    stream_.reset();
    return status.ok() ? grpc::StatusCode::UNKNOWN : status.error_code();
  }

 private:
  const FoveaClient& client_;
  const std::vector<inference::ModelInferRequest>& requests_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<FoveaClient::InferStream> stream_;
};

// What one worker saw.
struct WorkerTally {
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> errors;
};

// The error code of a response: the call's, or the first failed image's; 0 when everything succeeded.
int FailureCode(const grpc::Status& status, const v1::ClassifyResponse& response) {
  if (!status.ok()) return status.error_code();
  for (const v1::ImageResult& result : response.results()) {
    if (result.has_error()) return result.error().code() != 0 ? result.error().code() : grpc::StatusCode::UNKNOWN;
  }
  return 0;
}

// Sends request number k and returns its failure code (0 on success); each worker makes its own.
using Sender = std::function<int(int64_t k)>;
using SenderFactory = std::function<Sender()>;

// Runs the load for `seconds` (or `request_limit` requests when > 0) and tallies every answer.
WorkerTally RunPhase(const SenderFactory& make_sender, const BenchOptions& options, double seconds,
                     int64_t request_limit, double& elapsed_seconds) {
  const Clock::time_point start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::atomic<int64_t> next{0};
  std::vector<WorkerTally> tallies(static_cast<size_t>(options.concurrency));
  auto worker = [&](WorkerTally& tally) {
    const Sender send = make_sender();
    for (int64_t k = next++; request_limit == 0 || k < request_limit; k = next++) {
      Clock::time_point sent = Clock::now();
      if (options.rate > 0) {
        sent = start + std::chrono::duration_cast<Clock::duration>(
                           std::chrono::duration<double>(static_cast<double>(k) / options.rate));
        if (request_limit == 0 && sent >= end) break;
        std::this_thread::sleep_until(sent);
      } else if (request_limit == 0 && sent >= end) {
        break;
      }
      const int code = send(k);
      if (code != 0) {
        ++tally.errors[GrpcCodeName(code)];
      } else {
        tally.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
      }
    }
  };
  std::vector<std::thread> threads;
  for (WorkerTally& tally : tallies) threads.emplace_back(worker, std::ref(tally));
  for (std::thread& thread : threads) thread.join();
  elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  WorkerTally total;
  for (WorkerTally& tally : tallies) {
    total.latencies_ms.insert(total.latencies_ms.end(), tally.latencies_ms.begin(), tally.latencies_ms.end());
    for (const auto& [code, count] : tally.errors) total.errors[code] += count;
  }
  return total;
}

// The model to load: --model, or the server's only one. Empty (after a message on `err`) when neither works.
std::string ResolveModel(const FoveaClient& client, const BenchOptions& options, std::ostream& err) {
  if (!options.model.empty()) return options.model;
  v1::ListModelsResponse models;
  const grpc::Status status = client.ListModels(&models);
  if (!status.ok()) {
    err << "fovea bench: cannot list models on " << options.server << ": " << status.error_message() << "\n";
    return "";
  }
  if (models.models_size() != 1) {
    err << "fovea bench: the server has " << models.models_size() << " models; choose one with --model\n";
    return "";
  }
  return models.models(0).name();
}

}  // namespace

int RunBench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  BenchOptions options;
  ClientOptions client_options;
  const FlagSet flags = BenchFlags(options);
  ParsedArgs parsed;
  const auto check = [&](const ParsedArgs& p) -> std::string {
    if (options.requests > 0 && options.duration_seconds) return "give --duration or --requests, not both";
    options.files = p.positionals;
    return "";
  };
  if (const std::optional<int> exit_code = ParseServerCommandArgs(
          "bench", flags, args, options.connection, options.server, client_options, check, out, err, parsed)) {
    return *exit_code;
  }
  const std::unique_ptr<FoveaClient> client = FoveaClient::Connect(options.server, client_options);
  const std::string model = ResolveModel(*client, options, err);
  if (model.empty()) return kExitFailure;
  const auto images = LoadImages(*client, options, model);
  if (!images.ok()) {
    err << "fovea bench: " << images.status().message() << "\n";
    return kExitFailure;
  }
  const std::vector<v1::ClassifyRequest> requests = BuildRequests(*images, options, model);
  StatusOr<std::vector<inference::ModelInferRequest>> infer_requests = std::vector<inference::ModelInferRequest>();
  if (options.stream) infer_requests = BuildInferRequests(*client, requests, options, model);
  if (!infer_requests.ok()) {
    err << "fovea bench: " << infer_requests.status().message() << "\n";
    return kExitFailure;
  }
  const SenderFactory make_sender = [&]() -> Sender {
    if (options.stream) {
      auto stream = std::make_shared<StreamSender>(*client, *infer_requests);
      return [stream](int64_t k) { return stream->Send(k); };
    }
    return [&](int64_t k) {
      v1::ClassifyResponse response;
      return FailureCode(client->Classify(requests[static_cast<size_t>(k) % requests.size()], &response), response);
    };
  };

  double elapsed = 0;
  if (options.warmup_seconds > 0) (void)RunPhase(make_sender, options, options.warmup_seconds, 0, elapsed);
  const WorkerTally tally = RunPhase(make_sender, options, options.duration_seconds.value_or(kDefaultDurationSeconds),
                                     options.requests, elapsed);

  BenchReport report{options.server,
                     model,
                     options.stream ? "ModelStreamInfer" : "Classify",
                     options.raw ? "raw" : "encoded",
                     options.concurrency,
                     options.batch_size,
                     options.rate,
                     elapsed,
                     static_cast<int64_t>(tally.latencies_ms.size()),
                     tally.errors,
                     Summarize(tally.latencies_ms)};
  out << FormatBenchText(report);
  if (!options.json_path.empty()) {
    std::ofstream json(options.json_path);
    json << FormatBenchJson(report);
    if (!json) {
      err << "fovea bench: cannot write " << options.json_path << "\n";
      return kExitFailure;
    }
  }
  return report.requests_failed() == 0 ? kExitSuccess : kExitFailure;
}

}  // namespace fovea::client
