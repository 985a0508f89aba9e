// `fovea models` and `fovea health`: the two small read-only commands.

#include <iomanip>

#include "client/commands.h"
#include "client/connection_flags.h"
#include "client/fovea_client.h"

namespace fovea::client {
namespace {

// Parses the flags of `fovea models` or `fovea health` (a table that includes the connection flags bound to
// `connection`) and connects.
// Returns the exit status to stop with (after --help or a usage error), or std::nullopt with `client` connected.
std::optional<int> ParseInfoArgs(const std::string& command, const FlagSet& flags, const std::vector<std::string>& args,
                                 const ConnectionFlags& connection, std::ostream& out, std::ostream& err,
                                 std::unique_ptr<FoveaClient>& client) {
  std::string server;
  ClientOptions options;
  ParsedArgs parsed;
  const auto no_more_checks = [](const ParsedArgs&) { return std::string(); };
  if (const std::optional<int> exit_code =
          ParseServerCommandArgs(command, flags, args, connection, server, options, no_more_checks, out, err, parsed)) {
    return exit_code;
  }
  client = FoveaClient::Connect(server, options);
  return std::nullopt;
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

std::optional<int> ParseCommandArgs(const std::string& command, const FlagSet& flags,
                                    const std::vector<std::string>& args,
                                    const std::function<std::string(const ParsedArgs& parsed)>& check,
                                    std::ostream& out, std::ostream& err, ParsedArgs& parsed) {
  StatusOr<ParsedArgs> result = flags.Parse(args);
  if (result.ok() && result->help) {
    out << flags.Help();
    return kExitSuccess;
  }
  std::string error = result.ok() ? "" : result.status().message();
  if (result.ok()) {
    parsed = *std::move(result);
    error = check(parsed);
  }
  if (error.empty()) return std::nullopt;
  err << "fovea " << command << ": " << error << "\n" << flags.Help();
  return kExitUsage;
}

int RunModels(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ConnectionFlags connection;
  FlagSet flags({.usage = "fovea models [FLAGS]",
                 .description = "Lists the served models: name, loaded versions, latest version, input (channels x "
                                "height x width) and class count of the latest version."});
  AddConnectionFlags(flags, connection);
  std::unique_ptr<FoveaClient> client;
  if (const std::optional<int> exit_code = ParseInfoArgs("models", flags, args, connection, out, err, client)) {
    return *exit_code;
  }
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
  ConnectionFlags connection;
  std::string service;
  FlagSet flags({.usage = "fovea health [FLAGS]",
                 .description = "Asks grpc.health.v1.Health for the status of the server (or of one service) and "
                                "prints it. Exit status 0 only when SERVING."});
  flags.Add(TextFlag("service", &service, "NAME", "One service, e.g. fovea.v1.Inference.").Default("the whole server"));
  AddConnectionFlags(flags, connection);
  std::unique_ptr<FoveaClient> client;
  if (const std::optional<int> exit_code = ParseInfoArgs("health", flags, args, connection, out, err, client)) {
    return *exit_code;
  }
  grpc::health::v1::HealthCheckResponse::ServingStatus serving = grpc::health::v1::HealthCheckResponse::UNKNOWN;
  if (const grpc::Status status = client->CheckHealth(service, &serving); !status.ok()) {
    err << "fovea health: " << GrpcCodeName(status.error_code()) << ": " << status.error_message() << "\n";
    return kExitFailure;
  }
  out << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(serving) << "\n";
  return serving == grpc::health::v1::HealthCheckResponse::SERVING ? kExitSuccess : kExitFailure;
}

}  // namespace fovea::client
