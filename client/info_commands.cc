// `fovea models` and `fovea health`: the two small read-only commands.

#include <iomanip>

#include "client/cli_args.h"
#include "client/commands.h"
#include "client/connection_flags.h"
#include "client/fovea_client.h"

namespace fovea::client {
namespace {

const std::vector<FlagDef> kInfoFlags = WithConnectionFlags({{"service"}, {"help", false}});

// Parses the flags shared by the info commands and connects. Returns nullptr for --help, and (after printing why,
// with `parsed.error` set) on a usage error.
std::unique_ptr<FoveaClient> ParseInfoArgs(const std::vector<std::string>& args, const std::string& help,
                                           std::ostream& err, ParsedArgs& parsed) {
  parsed = ParseArgs(args, kInfoFlags);
  std::string error = parsed.error;
  if (error.empty() && !parsed.positionals.empty()) error = "unexpected argument '" + parsed.positionals[0] + "'";
  if (error.empty() && parsed.has("help")) return nullptr;
  std::string server;
  ClientOptions options;
  if (error.empty()) error = ReadConnectionFlags(parsed, server, options);
  if (error.empty()) return FoveaClient::Connect(server, options);
  err << error << "\n" << help;
  parsed.error = error;
  return nullptr;
}

std::string InputText(const v1::InputSpec& input) {
  return std::to_string(input.channels()) + "x" + std::to_string(input.height()) + "x" + std::to_string(input.width());
}

std::string VersionsText(const v1::ModelSummary& model) {
  std::string text;
  for (int64_t version : model.versions()) {
    if (!text.empty()) text += ',';
    text += std::to_string(version);
  }
  return text;
}

}  // namespace

std::optional<std::string> ResolveModel(const FoveaClient& client, const std::string& server, const std::string& model,
                                        std::ostream& err, int& exit_code) {
  if (!model.empty()) return model;
  v1::ListModelsResponse models;
  const grpc::Status status = client.ListModels(&models);
  if (!status.ok()) {
    err << "fovea: cannot list models on " << server << ": " << status.error_message() << "\n";
    exit_code = kExitFailure;
    return std::nullopt;
  }
  if (models.models_size() != 1) {
    err << "fovea: the server has " << models.models_size() << " models; choose one with --model\n";
    exit_code = kExitUsage;
    return std::nullopt;
  }
  return models.models(0).name();
}

std::string ModelsHelp() {
  return "Usage: fovea models [FLAGS]\n\n"
         "Lists the served models: name, loaded versions, latest version, input (channels x height x width) and\n"
         "class count of the latest version.\n\n" +
         ConnectionHelp();
}

std::string HealthHelp() {
  return "Usage: fovea health [FLAGS]\n\n"
         "Asks grpc.health.v1.Health for the status of the server (or of one service) and prints it. Exit status 0\n"
         "only when SERVING.\n\n"
         "  --service NAME          one service, e.g. fovea.v1.Inference (default: the whole server)\n" +
         ConnectionHelp();
}

int RunModels(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ParsedArgs parsed;
  const std::unique_ptr<FoveaClient> client = ParseInfoArgs(args, ModelsHelp(), err, parsed);
  if (parsed.has("help") && parsed.error.empty()) {
    out << ModelsHelp();
    return kExitSuccess;
  }
  if (client == nullptr) return kExitUsage;
  v1::ListModelsResponse models;
  if (const grpc::Status status = client->ListModels(&models); !status.ok()) {
    err << "fovea models: " << GrpcCodeName(status.error_code()) << ": " << status.error_message() << "\n";
    return kExitFailure;
  }
  out << std::left << std::setw(24) << "NAME" << std::setw(12) << "VERSIONS" << std::setw(8) << "LATEST"
      << std::setw(14) << "INPUT"
      << "CLASSES\n";
  for (const v1::ModelSummary& model : models.models()) {
    v1::GetModelResponse details;
    if (const grpc::Status status = client->GetModel(model.name(), 0, &details); !status.ok()) {
      err << "fovea models: " << model.name() << ": " << status.error_message() << "\n";
      return kExitFailure;
    }
    out << std::left << std::setw(24) << model.name() << std::setw(12) << VersionsText(model) << std::setw(8)
        << model.latest_version() << std::setw(14) << InputText(details.input()) << details.num_classes() << "\n";
  }
  return kExitSuccess;
}

int RunHealth(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ParsedArgs parsed;
  const std::unique_ptr<FoveaClient> client = ParseInfoArgs(args, HealthHelp(), err, parsed);
  if (parsed.has("help") && parsed.error.empty()) {
    out << HealthHelp();
    return kExitSuccess;
  }
  if (client == nullptr) return kExitUsage;
  grpc::health::v1::HealthCheckResponse::ServingStatus serving = grpc::health::v1::HealthCheckResponse::UNKNOWN;
  if (const grpc::Status status = client->CheckHealth(parsed.value_or("service", ""), &serving); !status.ok()) {
    err << "fovea health: " << GrpcCodeName(status.error_code()) << ": " << status.error_message() << "\n";
    return kExitFailure;
  }
  out << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(serving) << "\n";
  return serving == grpc::health::v1::HealthCheckResponse::SERVING ? kExitSuccess : kExitFailure;
}

}  // namespace fovea::client
