#pragma once
// Runs the real fovea-server binary on a free 127.0.0.1 port for a test, and runs the real `fovea` CLI.
// Binary and data paths come from CMake (FOVEA_SERVER_BINARY, FOVEA_CLI_BINARY, FOVEA_TEST_DATA_DIR).

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "client/fovea_client.h"

namespace fovea::testing {

// Folder with models/ (the test model repository) and images/, written by make_test_models.py at build time.
std::string TestDataDir();

// Asks the kernel for a free 127.0.0.1 port. Another process could take it before ours binds, so callers retry on a
// bind failure (ServerProcess::Start does).
int FreeLoopbackPort();

// A fresh empty folder under $TMPDIR (or /tmp), removed by the caller if it cares.
std::string MakeTempDir();

class ServerProcess {
 public:
  // Starts fovea-server with --address 127.0.0.1:<free port>, the test model repository, --version-policy all (every
  // test model version) and `extra_args` (later flags win), then waits until grpc.health.v1 answers SERVING to a
  // client made with `probe` (TLS settings for a TLS server). Returns nullptr (after a gtest failure naming why) when
  // it does not. A non-empty `address` ("127.0.0.1:PORT") is used instead of a free port (to restart on the same
  // port).
  static std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra_args = {},
                                              const client::ClientOptions& probe = {}, const std::string& address = "");
  ~ServerProcess();  // kills the server if it still runs and removes its log folder
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }
  // The server's process id (for /proc sampling); -1 once it has exited and been reaped.
  pid_t pid() const { return pid_; }

  // The body of GET http://127.0.0.1:<metrics port>/metrics (the server gets a free metrics port), or "" when it does
  // not answer.
  std::string FetchMetrics() const;

  // Sends `signal` and waits for the exit; returns the exit status, or -1 when it died by a signal or took longer
  // than the timeout.
  int StopWith(int signal);

  // Everything the server wrote to stderr so far.
  std::string Log() const;

 private:
  ServerProcess(pid_t pid, std::string address, int metrics_port, std::string log_dir)
      : pid_(pid), address_(std::move(address)), metrics_port_(metrics_port), log_dir_(std::move(log_dir)) {}
  bool WaitUntilServing(client::ClientOptions probe);

  pid_t pid_;
  std::string address_;
  int metrics_port_;
  std::string log_dir_;  // holds server.log; removed with the ServerProcess
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] a path) to completion, capturing stdout and stderr; `env` entries are set in the child's
// environment on top of the test's own.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::pair<std::string, std::string>>& env = {});

// Runs the `fovea` CLI with `args`.
CommandResult RunCli(const std::vector<std::string>& args);

}  // namespace fovea::testing
