#include "tests/integration/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "client/fovea_client.h"

namespace fovea::testing {
namespace {

constexpr auto kStartupTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(30);
constexpr auto kPollInterval = std::chrono::milliseconds(50);
constexpr int kStartAttempts = 3;

}  // namespace

int FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream content;
  content << file.rdbuf();
  return content.str();
}

// fork + exec with stdout/stderr sent to files; returns the child's pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// Waits for `pid` up to `timeout`; returns its exit status, or -1 on a signal death or timeout (`timed_out` says
// which; a timed-out child is still running and not reaped).
int WaitForExit(pid_t pid, std::chrono::steady_clock::duration timeout, bool& timed_out) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  timed_out = false;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      timed_out = true;
      return -1;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

std::string TestDataDir() { return FOVEA_TEST_DATA_DIR; }

std::string MakeTempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/fovea-test-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed for " << pattern;
  return pattern;
}

std::unique_ptr<ServerProcess> ServerProcess::Start(const std::vector<std::string>& extra_args,
                                                    const client::ClientOptions& probe,
                                                    const std::string& fixed_address) {
  std::string log;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    const std::string address =
        fixed_address.empty() ? "127.0.0.1:" + std::to_string(FreeLoopbackPort()) : fixed_address;
    const int metrics_port = FreeLoopbackPort();
    const std::string log_dir = MakeTempDir();
    // Every version of the test models is loaded (the server's default is latest:1); tests override it with their
    // own --version-policy, which comes later and wins.
    std::vector<std::string> argv = {FOVEA_SERVER_BINARY,          "--address",        address, "--model-repository",
                                     TestDataDir() + "/models",    "--threads",        "2",     "--metrics-port",
                                     std::to_string(metrics_port), "--version-policy", "all"};
    // No REST port unless a test asks for one: parallel tests would all try its default, 8000.
    argv.insert(argv.end(), {"--http-port", "0"});
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    const pid_t pid = Spawn(argv, log_dir + "/stdout.log", log_dir + "/server.log");
    std::unique_ptr<ServerProcess> server(new ServerProcess(pid, address, metrics_port, log_dir));
    if (server->WaitUntilServing(probe)) return server;
    log = server->Log();
    // Another process may have taken the free port between our probe and the server's bind; try a new one.
    if (!fixed_address.empty() || log.find("cannot listen on") == std::string::npos) break;
  }
  ADD_FAILURE() << "fovea-server did not become SERVING; its log:\n" << log;
  return nullptr;
}

bool ServerProcess::WaitUntilServing(client::ClientOptions options) {
  options.timeout = std::chrono::milliseconds(500);
  const auto deadline = std::chrono::steady_clock::now() + kStartupTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    // A new channel per attempt: a channel that saw "connection refused" waits out its reconnect backoff (seconds).
    const auto client = client::FoveaClient::Connect(address_, options);
    grpc::health::v1::HealthCheckResponse::ServingStatus serving{};
    if (client->CheckHealth("", &serving).ok() && serving == grpc::health::v1::HealthCheckResponse::SERVING) {
      return true;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  return false;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ignored;
  std::filesystem::remove_all(log_dir_, ignored);
}

int ServerProcess::StopWith(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  bool timed_out = false;
  const int status = WaitForExit(pid_, kStopTimeout, timed_out);
  if (!timed_out) pid_ = -1;  // reaped; otherwise the destructor kills it
  return status;
}

std::string ServerProcess::Log() const { return ReadFile(log_dir_ + "/server.log"); }

std::string ServerProcess::FetchMetrics() const {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(metrics_port_));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      ssize_t got = 0;
      while ((got = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, static_cast<size_t>(got));
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

CommandResult RunCommand(const std::vector<std::string>& argv,
                         const std::vector<std::pair<std::string, std::string>>& env) {
  const std::string dir = MakeTempDir();
  const pid_t pid = Spawn(argv, dir + "/out", dir + "/err", env);
  CommandResult result;
  bool timed_out = false;
  result.exit_code = WaitForExit(pid, kStartupTimeout, timed_out);
  if (timed_out) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    ADD_FAILURE() << argv[0] << " did not finish in time";
  }
  result.out = ReadFile(dir + "/out");
  result.err = ReadFile(dir + "/err");
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

CommandResult RunCli(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {FOVEA_CLI_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

}  // namespace fovea::testing
