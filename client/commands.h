#pragma once
// The subcommands of the `fovea` CLI. Each takes its arguments (after the command name), prints results to `out`
// and diagnostics to `err`, and returns the process exit status: 0 success, 1 some work failed, 2 usage error.

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace fovea::client {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr char kDefaultServer[] = "localhost:50051";

// `fovea classify PATH...`: classifies files, folders (recursive) and globs; see ClassifyHelp().
int RunClassify(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea localize IMAGE... --out DIR`: heatmap overlays and detections per image; see LocalizeHelp().
int RunLocalize(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea models`: lists served models with versions, input spec and class count.
int RunModels(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea health`: prints the server's health status; exit 0 only when SERVING.
int RunHealth(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea bench [IMAGE...]`: load generator; reports throughput, latency percentiles and errors; see BenchHelp().
int RunBench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

std::string ClassifyHelp();
std::string LocalizeHelp();
std::string ModelsHelp();
std::string HealthHelp();
std::string BenchHelp();

class FoveaClient;

// The model a command should use: `model` when given, else the server's only model. On failure prints why to `err`,
// sets `exit_code` (1 when the server cannot be asked, 2 when it has several models) and returns std::nullopt.
std::optional<std::string> ResolveModel(const FoveaClient& client, const std::string& server, const std::string& model,
                                        std::ostream& err, int& exit_code);

}  // namespace fovea::client
