#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include "client/commands.h"
#include "client/connection_flags.h"
#include "client/fovea_client.h"
#include "client/input_files.h"
#include "client/progress_bar.h"
#include "client/result_output.h"
#include "imageio/image.h"

namespace fovea::client {
namespace {

constexpr int kDefaultBatchSize = 16;
constexpr int kDefaultConcurrency = 4;
constexpr int kMaxBatchSize = 4096;
constexpr int kMaxConcurrency = 256;
constexpr int kDefaultTimeoutSeconds = 120;

struct ClassifyOptions {
  ConnectionFlags connection;
  std::string server;  // the channel target the connection flags resolve to
  std::string model;   // empty: the server's only model
  int64_t version = 0;
  std::optional<int32_t> top_k;
  int batch_size = kDefaultBatchSize;
  int concurrency = kDefaultConcurrency;
  OutputFormat format = OutputFormat::kTable;
  bool decode_locally = false;
};

// The flag table of `fovea classify`, bound to `o` (which must outlive it).
FlagSet ClassifyFlags(ClassifyOptions& o) {
  FlagSet flags({.usage = "fovea classify [FLAGS] PATH...",
                 .description =
                     "Classifies image files, folders (recursively; non-image files in them are skipped and counted) "
                     "and globs. Every input appears once in the output with its labels or its error; the exit "
                     "status is 1 when any failed, 2 on a usage error.",
                 .positionals = true});
  flags.Add(TextFlag("model", &o.model, "NAME", "Model to use.").Default("the server's only model"));
  flags.Add(IntegerFlag("version", &o.version, 0, INT64_MAX, "N", "Model version; 0 = latest."));
  // Passed through unchecked: the server owns the valid range and names it in its error.
  flags.Add(IntegerFlag("top-k", &o.top_k, INT32_MIN, INT32_MAX, "K", "Classes per image.")
                .Default("the server's, min(5, classes)"));
  flags.Add(IntegerFlag("batch-size", &o.batch_size, 1, kMaxBatchSize, "N", "Images per request."));
  flags.Add(IntegerFlag("concurrency", &o.concurrency, 1, kMaxConcurrency, "N", "Requests in flight."));
  flags.Add(CustomFlag("format", "F", "table, csv or json.", [&o](const std::string& value) -> Status {
              const std::optional<OutputFormat> format = ParseOutputFormat(value);
              if (!format) return InvalidArgument("'" + value + "' is not table, csv or json");
              o.format = *format;
              return OkStatus();
            }).Default("table"));
  flags.Add(SwitchFlag("decode-locally", &o.decode_locally,
                       "Decode images here and send pixels instead of the encoded file."));
  o.connection.timeout_seconds = kDefaultTimeoutSeconds;
  AddConnectionFlags(flags, o.connection);
  return flags;
}

void SetError(ImageOutcome& outcome, int code, std::string message) {
  outcome.error_code = code;
  outcome.error_message = std::move(message);
}

// Fills `image` from the file at `path` (encoded bytes, or decoded pixels with --decode-locally).
bool LoadImage(const std::string& path, bool decode_locally, v1::ImageInput& image, ImageOutcome& outcome) {
  std::ifstream file(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (!file.good() && !file.eof()) {
    SetError(outcome, static_cast<int>(grpc::StatusCode::NOT_FOUND), "cannot read file");
    return false;
  }
  image.set_id(path);
  if (!decode_locally) {
    image.set_encoded(std::move(bytes));
    return true;
  }
  const auto decoded = imageio::Decode({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  if (!decoded.ok()) {
    SetError(outcome, static_cast<int>(decoded.status().code()), "decoding locally: " + decoded.status().message());
    return false;
  }
  v1::RawTensor* tensor = image.mutable_tensor();
  tensor->set_dtype(v1::DATA_TYPE_UINT8);
  for (int64_t dim : {decoded->height, decoded->width, decoded->channels}) tensor->add_shape(dim);
  tensor->set_data(decoded->pixels.data(), decoded->pixels.size());
  return true;
}

// Sends one batch of inputs and records each image's outcome.
void ClassifyBatch(const FoveaClient& client, const ClassifyOptions& options, const std::string& model,
                   const std::vector<size_t>& batch, std::vector<ImageOutcome>& outcomes) {
  v1::ClassifyRequest request;
  request.set_model_name(model);
  request.set_model_version(options.version);
  if (options.top_k) request.set_top_k(*options.top_k);
  std::vector<size_t> sent;
  for (size_t index : batch) {
    if (LoadImage(outcomes[index].path, options.decode_locally, *request.add_images(), outcomes[index])) {
      sent.push_back(index);
    } else {
      request.mutable_images()->RemoveLast();
    }
  }
  if (sent.empty()) return;
  v1::ClassifyResponse response;
  const grpc::Status status = client.Classify(request, &response);
  for (size_t i = 0; i < sent.size(); ++i) {
    ImageOutcome& outcome = outcomes[sent[i]];
    if (!status.ok()) {
      SetError(outcome, status.error_code(), status.error_message());
    } else if (static_cast<int>(i) >= response.results_size()) {
      SetError(outcome, static_cast<int>(grpc::StatusCode::INTERNAL), "server returned too few results");
    } else if (response.results(static_cast<int>(i)).has_error()) {
      const v1::ImageError& error = response.results(static_cast<int>(i)).error();
      SetError(outcome, error.code(), error.message());
    } else {
      const auto& predictions = response.results(static_cast<int>(i)).predictions();
      outcome.predictions.assign(predictions.begin(), predictions.end());
    }
  }
}

// Splits the inputs that resolved to files into batches of `batch_size`, in input order.
std::vector<std::vector<size_t>> MakeBatches(const std::vector<ImageOutcome>& outcomes, int batch_size) {
  std::vector<std::vector<size_t>> batches;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (outcomes[i].failed()) continue;
    if (batches.empty() || batches.back().size() == static_cast<size_t>(batch_size)) batches.emplace_back();
    batches.back().push_back(i);
  }
  return batches;
}

void RunBatches(const FoveaClient& client, const ClassifyOptions& options, const std::string& model,
                std::vector<ImageOutcome>& outcomes) {
  const std::vector<std::vector<size_t>> batches = MakeBatches(outcomes, options.batch_size);
  size_t image_count = 0;
  for (const auto& batch : batches) image_count += batch.size();
  ProgressBar progress(image_count, StderrIsTerminal());
  std::atomic<size_t> next_batch{0};
  // Each batch writes only its own outcomes, so workers share the vector without a lock.
  auto worker = [&] {
    for (size_t b = next_batch++; b < batches.size(); b = next_batch++) {
      ClassifyBatch(client, options, model, batches[b], outcomes);
      progress.Advance(batches[b].size());
    }
  };
  std::vector<std::thread> workers;
  const size_t thread_count = std::min(static_cast<size_t>(options.concurrency), batches.size());
  for (size_t t = 0; t < thread_count; ++t) workers.emplace_back(worker);
  for (std::thread& thread : workers) thread.join();
  progress.Finish();
}

void WriteSummary(std::ostream& err, const std::vector<ImageOutcome>& outcomes, int skipped, double seconds) {
  const auto failures = std::count_if(outcomes.begin(), outcomes.end(), [](const auto& o) { return o.failed(); });
  std::ostringstream line;
  line.setf(std::ios::fixed);
  line.precision(1);
  line << outcomes.size() << " images, " << failures << " failed, " << skipped << " non-image files skipped, "
       << (seconds > 0 ? static_cast<double>(outcomes.size()) / seconds : 0.0) << " images/s (" << seconds << " s)\n";
  err << line.str();
}

}  // namespace

int RunClassify(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ClassifyOptions options;
  ClientOptions client_options;
  const FlagSet flags = ClassifyFlags(options);
  ParsedArgs parsed;
  const auto check = [](const ParsedArgs& p) -> std::string { return p.positionals.empty() ? "no PATH given" : ""; };
  if (const std::optional<int> exit_code = ParseServerCommandArgs(
          "classify", flags, args, options.connection, options.server, client_options, check, out, err, parsed)) {
    return *exit_code;
  }
  const auto start = std::chrono::steady_clock::now();
  int exit_code = kExitSuccess;
  const std::optional<ModelConnection> connection =
      ConnectToModel(options.server, client_options, options.model, err, exit_code);
  if (!connection) return exit_code;
  FoveaClient& client = *connection->client;
  const std::string& model = connection->model;

  const InputList inputs = ExpandInputs(parsed.positionals);
  std::vector<ImageOutcome> outcomes(inputs.files.size());
  for (size_t i = 0; i < inputs.files.size(); ++i) {
    outcomes[i].path = inputs.files[i].path;
    if (!inputs.files[i].error.empty()) {
      SetError(outcomes[i], static_cast<int>(grpc::StatusCode::NOT_FOUND), inputs.files[i].error);
    }
  }
  RunBatches(client, options, model, outcomes);
  WriteOutcomes(out, options.format, outcomes);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WriteSummary(err, outcomes, inputs.skipped_non_images, seconds);
  const bool any_failed = std::any_of(outcomes.begin(), outcomes.end(), [](const auto& o) { return o.failed(); });
  return any_failed ? kExitFailure : kExitSuccess;
}

}  // namespace fovea::client
