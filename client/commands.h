#pragma once
// The subcommands of the `fovea` CLI. Each takes its arguments (after the command name), prints results to `out`
// and diagnostics to `err`, and returns the process exit status: 0 success, 1 some work failed, 2 usage error.

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "common/flags.h"

namespace fovea::client {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr char kDefaultServer[] = "localhost:50051";

// `fovea classify PATH...`: classifies files, folders (recursive) and globs; see `fovea classify --help`.
int RunClassify(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea localize IMAGE... --out DIR`: heatmap overlays and detections per image; see `fovea localize --help`.
int RunLocalize(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea models`: lists served models with versions, input spec and class count.
int RunModels(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea health`: prints the server's health status; exit 0 only when SERVING.
int RunHealth(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
// `fovea bench [IMAGE...]`: load generator; throughput, latency percentiles, errors; see `fovea bench --help`.
int RunBench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Parses a command's `args` with its flag table, then runs `check` (the checks that need every flag, such as reading
// the connection flags); `check` returns an error message or "". Returns the exit status to stop with: 0 after
// printing --help to `out`, 2 after printing the error and the help to `err`; std::nullopt to go on with `parsed`.
std::optional<int> ParseCommandArgs(const std::string& command, const FlagSet& flags,
                                    const std::vector<std::string>& args,
                                    const std::function<std::string(const ParsedArgs& parsed)>& check,
                                    std::ostream& out, std::ostream& err, ParsedArgs& parsed);

// Reads a --classes value ("3,7,9") into `classes`; INVALID_ARGUMENT naming the text otherwise.
Status ReadClassIndices(const std::string& text, std::vector<int64_t>& classes);

class FoveaClient;

// The model a command should use: `model` when given, else the server's only model. On failure prints why to `err`,
// sets `exit_code` (1 when the server cannot be asked, 2 when it has several models) and returns std::nullopt.
std::optional<std::string> ResolveModel(const FoveaClient& client, const std::string& server, const std::string& model,
                                        std::ostream& err, int& exit_code);

}  // namespace fovea::client
