// `fovea models` and `fovea health`: the two small read-only commands.

#include <iomanip>

#include "client/cli_args.h"
#include "client/commands.h"
#include "client/fovea_client.h"

namespace fovea::client {
namespace {

const std::vector<FlagDef> kInfoFlags = {{"server"}, {"service"}, {"help", false}};

// Parses the flags shared by the info commands and the channel target of --server; returns false (after printing
// why) on a usage error.
bool ParseInfoArgs(const std::vector<std::string>& args, const std::string& help, std::ostream& err, ParsedArgs& parsed,
                   std::string& target) {
  parsed = ParseArgs(args, kInfoFlags);
  std::string error = parsed.error;
  if (error.empty() && !parsed.positionals.empty()) error = "unexpected argument '" + parsed.positionals[0] + "'";
  if (error.empty()) {
    const ServerTarget server = ParseServerList(parsed.value_or("server", kDefaultServer));
    target = server.target;
    error = server.error;
  }
  if (error.empty()) return true;
  err << error << "\n" << help;
  return false;
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

std::string ModelsHelp() {
  return "Usage: fovea models [--server HOST:PORT]\n\n"
         "Lists the served models: name, loaded versions, latest version, input (channels x height x width) and\n"
         "class count of the latest version.\n";
}

std::string HealthHelp() {
  return "Usage: fovea health [--server HOST:PORT] [--service NAME]\n\n"
         "Asks grpc.health.v1.Health for the status of the server (or of one service) and prints it. Exit status 0\n"
         "only when SERVING.\n";
}

int RunModels(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  ParsedArgs parsed;
  std::string target;
  if (!ParseInfoArgs(args, ModelsHelp(), err, parsed, target)) return kExitUsage;
  if (parsed.has("help")) {
    out << ModelsHelp();
    return kExitSuccess;
  }
  const auto client = FoveaClient::Connect(target);
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
  std::string target;
  if (!ParseInfoArgs(args, HealthHelp(), err, parsed, target)) return kExitUsage;
  if (parsed.has("help")) {
    out << HealthHelp();
    return kExitSuccess;
  }
  const auto client = FoveaClient::Connect(target);
  grpc::health::v1::HealthCheckResponse::ServingStatus serving = grpc::health::v1::HealthCheckResponse::UNKNOWN;
  if (const grpc::Status status = client->CheckHealth(parsed.value_or("service", ""), &serving); !status.ok()) {
    err << "fovea health: " << GrpcCodeName(status.error_code()) << ": " << status.error_message() << "\n";
    return kExitFailure;
  }
  out << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(serving) << "\n";
  return serving == grpc::health::v1::HealthCheckResponse::SERVING ? kExitSuccess : kExitFailure;
}

}  // namespace fovea::client
