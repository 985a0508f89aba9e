// Scale-out on loopback: three real fovea-server processes, balanced by the client itself (gRPC round_robin over a
// --server list) and by nginx as a gRPC load balancer (grpc_pass to an upstream). Checks that requests reach every
// replica, and that killing one replica mid-run loses no result (the client retries UNAVAILABLE elsewhere).

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "client/fovea_client.h"
#include "tests/integration/server_process.h"
#include "tests/integration/test_images.h"

namespace fovea::testing {
namespace {

namespace fs = std::filesystem;

constexpr int kReplicas = 3;
constexpr int kImages = 300;
constexpr int kKillAfterClassifyCalls = 10;  // the victim has served this many calls when it is killed
constexpr char kNginxBinary[] = "/usr/sbin/nginx";
constexpr auto kPollInterval = std::chrono::milliseconds(5);
constexpr auto kNginxStartTimeout = std::chrono::seconds(20);

// Every answered Classify call logs one "<method> OK" line (server/transport/grpc/inference_service.cc).
int ClassifyCallsServed(const ServerProcess& server) {
  const std::string log = server.Log();
  int count = 0;
  for (size_t at = log.find("Classify OK"); at != std::string::npos; at = log.find("Classify OK", at + 1)) ++count;
  return count;
}

// The CSV line that starts with `path`, or "" (for failure messages).
std::string RowOf(const std::string& csv, const std::string& path) {
  const size_t start = csv.find(path + ",");
  return start == std::string::npos ? "" : csv.substr(start, csv.find('\n', start) - start);
}

// nginx as a gRPC load balancer in front of `backends`, on a free 127.0.0.1 port, with its config, pid file, logs
// and temp folders in a private folder. Stopped (and the folder removed) on destruction.
class NginxBalancer {
 public:
  static std::unique_ptr<NginxBalancer> Start(const std::vector<std::string>& backends) {
    auto balancer = std::unique_ptr<NginxBalancer>(new NginxBalancer(MakeTempDir()));
    balancer->address_ = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
    balancer->WriteConfig(backends);
    const CommandResult started = RunCommand({kNginxBinary, "-p", balancer->dir_, "-e", balancer->dir_ + "/error.log",
                                              "-c", balancer->dir_ + "/nginx.conf"});
    if (started.exit_code != 0 || !balancer->WaitUntilServing()) {
      ADD_FAILURE() << "nginx did not start (exit " << started.exit_code << "): " << started.err
                    << balancer->ErrorLog();
      return nullptr;
    }
    return balancer;
  }

  ~NginxBalancer() {
    RunCommand({kNginxBinary, "-p", dir_, "-e", dir_ + "/error.log", "-c", dir_ + "/nginx.conf", "-s", "stop"});
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  const std::string& address() const { return address_; }

  std::string ErrorLog() const {
    std::ifstream file(dir_ + "/error.log");
    std::ostringstream text;
    text << file.rdbuf();
    return text.str();
  }

 private:
  explicit NginxBalancer(std::string dir) : dir_(std::move(dir)) {}

  // Mirrors docker/nginx.conf: HTTP/2 cleartext in, grpc_pass to the replicas round-robin, and a call that fails on
  // a replica (connection refused or reset) goes to the next one: Classify is idempotent, so non_idempotent is safe.
  void WriteConfig(const std::vector<std::string>& backends) const {
    std::ofstream conf(dir_ + "/nginx.conf");
    conf << "daemon on;\nworker_processes 1;\npid " << dir_ << "/nginx.pid;\n";
    if (geteuid() == 0) conf << "user root;\n";  // workers write the temp folders below, which only root can
    conf << "events { worker_connections 256; }\nhttp {\n  access_log " << dir_ << "/access.log;\n";
    for (const char* temp : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
      conf << "  " << temp << "_temp_path " << dir_ << "/" << temp << ";\n";
    }
    conf << "  upstream fovea {\n";
    for (const std::string& backend : backends) conf << "    server " << backend << ";\n";
    conf << "  }\n  server {\n    listen " << address_ << " http2;\n    client_max_body_size 64m;\n"
         << "    location / {\n      grpc_pass grpc://fovea;\n"
         << "      grpc_next_upstream error timeout non_idempotent;\n    }\n  }\n}\n";
  }

  bool WaitUntilServing() const {
    const auto deadline = std::chrono::steady_clock::now() + kNginxStartTimeout;
    client::ClientOptions options;
    options.timeout = std::chrono::milliseconds(500);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto client = client::FoveaClient::Connect(address_, options);
      grpc::health::v1::HealthCheckResponse::ServingStatus serving{};
      if (client->CheckHealth("", &serving).ok() && serving == grpc::health::v1::HealthCheckResponse::SERVING) {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string dir_;
  std::string address_;
};

class ScaleOutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < kReplicas; ++i) {
      servers_.push_back(ServerProcess::Start());
      ASSERT_NE(servers_.back(), nullptr);
    }
    folder_ = MakeTempDir();
    for (int i = 0; i < kImages; ++i) {
      std::ofstream(folder_ / ("image" + std::to_string(i) + ".png"), std::ios::binary) << GrayPng(kTinySize, i);
    }
  }

  void TearDown() override { fs::remove_all(folder_); }

  std::vector<std::string> Addresses() const {
    std::vector<std::string> addresses;
    for (const auto& server : servers_) addresses.push_back(server->address());
    return addresses;
  }

  // One request per image, so that the balancer has kImages calls to spread.
  CommandResult ClassifyAll(const std::string& server) const {
    return RunCli({"classify", folder_.string(), "--server", server, "--model", "tiny", "--batch-size", "1",
                   "--concurrency", "4", "--format", "csv", "--top-k", "1"});
  }

  // Every image has exactly one row, and it is a result, not an error.
  void ExpectEveryResult(const CommandResult& result) const {
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find(std::to_string(kImages) + " images, 0 failed"), std::string::npos) << result.err;
    for (int i = 0; i < kImages; ++i) {
      const std::string path = (folder_ / ("image" + std::to_string(i) + ".png")).string();
      EXPECT_NE(result.out.find(path + ",ok,"), std::string::npos)
          << "no result row for image " << i << ": " << RowOf(result.out, path);
    }
  }

  // Each replica answered some calls, and together at least one per image.
  void ExpectSpreadOverAllReplicas() const {
    int total = 0;
    for (int i = 0; i < kReplicas; ++i) {
      const int served = ClassifyCallsServed(*servers_[i]);
      EXPECT_GT(served, 0) << "replica " << i << " served no Classify call";
      total += served;
    }
    EXPECT_GE(total, kImages);
  }

  // Runs ClassifyAll(server) and SIGKILLs the last replica once it has served a few calls; checks that the run went
  // on on the other replicas after the kill and that every image still has its result.
  void KillOneReplicaMidRun(const std::string& server) {
    std::atomic<bool> done{false};
    CommandResult result;
    std::thread client([&] {
      result = ClassifyAll(server);
      done = true;
    });
    ServerProcess& victim = *servers_.back();
    while (!done && ClassifyCallsServed(victim) < kKillAfterClassifyCalls) std::this_thread::sleep_for(kPollInterval);
    const bool killed_mid_run = !done;
    victim.StopWith(SIGKILL);
    const int survivors_at_kill = ClassifyCallsServed(*servers_[0]) + ClassifyCallsServed(*servers_[1]);
    client.join();
    ASSERT_TRUE(killed_mid_run) << "the run ended before the victim served " << kKillAfterClassifyCalls << " calls";
    EXPECT_GT(ClassifyCallsServed(*servers_[0]) + ClassifyCallsServed(*servers_[1]), survivors_at_kill)
        << "nothing was served after the kill";
    ExpectEveryResult(result);
  }

  std::vector<std::unique_ptr<ServerProcess>> servers_;
  fs::path folder_;
};

std::string CommaList(const std::vector<std::string>& addresses) {
  std::string list;
  for (const std::string& address : addresses) list += (list.empty() ? "" : ",") + address;
  return list;
}

TEST_F(ScaleOutTest, ClientRoundRobinSpreadsCallsOverEveryReplica) {
  ExpectEveryResult(ClassifyAll(CommaList(Addresses())));
  ExpectSpreadOverAllReplicas();
}

TEST_F(ScaleOutTest, ClientRoundRobinLosesNoResultWhenAReplicaDies) { KillOneReplicaMidRun(CommaList(Addresses())); }

TEST_F(ScaleOutTest, NginxGrpcPassSpreadsCallsOverEveryReplica) {
  if (!fs::exists(kNginxBinary))
    GTEST_SKIP() << kNginxBinary << " is not installed (scripts/install-deps.sh installs it)";
  const auto nginx = NginxBalancer::Start(Addresses());
  ASSERT_NE(nginx, nullptr);
  ExpectEveryResult(ClassifyAll(nginx->address()));
  ExpectSpreadOverAllReplicas();
}

TEST_F(ScaleOutTest, NginxGrpcPassLosesNoResultWhenAReplicaDies) {
  if (!fs::exists(kNginxBinary))
    GTEST_SKIP() << kNginxBinary << " is not installed (scripts/install-deps.sh installs it)";
  const auto nginx = NginxBalancer::Start(Addresses());
  ASSERT_NE(nginx, nullptr);
  KillOneReplicaMidRun(nginx->address());
  EXPECT_EQ(nginx->ErrorLog().find("[emerg]"), std::string::npos) << nginx->ErrorLog();
}

}  // namespace
}  // namespace fovea::testing
