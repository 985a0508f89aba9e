#include "client/connection_flags.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace fovea::client {
namespace {

namespace fs = std::filesystem;

class ConnectionFlagsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "fovea-flags-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    std::ofstream(dir_ / "ca.pem") << "CA PEM";
    std::ofstream(dir_ / "token") << "  tok-en\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The error of reading `args`, with `options` and `server` filled on success.
  std::string Read(const std::vector<std::string>& args) {
    ConnectionFlags connection;
    FlagSet flags(CommandInfo{});
    AddConnectionFlags(flags, connection);
    const StatusOr<ParsedArgs> parsed = flags.Parse(args);
    if (!parsed.ok()) return parsed.status().message();
    options_ = {};
    return ReadConnectionFlags(connection, server_, options_);
  }
  std::string Path(const char* name) const { return (dir_ / name).string(); }

  fs::path dir_;
  std::string server_;
  ClientOptions options_;
};

TEST_F(ConnectionFlagsTest, DefaultsArePlaintextToLocalhost) {
  EXPECT_EQ(Read({}), "");
  EXPECT_EQ(server_, "localhost:50051");
  EXPECT_FALSE(options_.tls);
  EXPECT_TRUE(options_.bearer_token.empty());
  EXPECT_EQ(options_.timeout, std::chrono::seconds(60));
}

TEST_F(ConnectionFlagsTest, TimeoutIsEachCallsDeadline) {
  EXPECT_EQ(Read({"--timeout", "7"}), "");
  EXPECT_EQ(options_.timeout, std::chrono::seconds(7));
  EXPECT_NE(Read({"--timeout", "0"}), "") << "a call needs a deadline of at least a second";
}

TEST_F(ConnectionFlagsTest, TlsCaAndTokenFilesAreRead) {
  EXPECT_EQ(Read({"--server", "h:1", "--tls-ca", Path("ca.pem"), "--auth-token-file", Path("token")}), "");
  EXPECT_EQ(server_, "h:1");
  EXPECT_TRUE(options_.tls);
  EXPECT_EQ(options_.tls_root_certs, "CA PEM");
  EXPECT_EQ(options_.bearer_token, "tok-en");
  EXPECT_EQ(Read({"--tls"}), "");
  EXPECT_TRUE(options_.tls);
  EXPECT_TRUE(options_.tls_root_certs.empty()) << "--tls alone trusts the system CAs";
}

TEST_F(ConnectionFlagsTest, MistakesAreNamed) {
  EXPECT_EQ(Read({"--auth-token-file", Path("token")}), "--auth-token-file needs TLS (--tls or --tls-ca)");
  EXPECT_EQ(Read({"--tls-ca", Path("ca.pem"), "--tls-cert", Path("ca.pem")}),
            "--tls-cert and --tls-key must be given together");
  EXPECT_EQ(Read({"--tls-ca", Path("absent.pem")}), "--tls-ca: cannot read " + Path("absent.pem"));
}

TEST(ServerListTest, OneAddressOrUriPassesThrough) {
  EXPECT_EQ(ParseServerList("localhost:50051").target, "localhost:50051");
  EXPECT_EQ(ParseServerList("dns:///fovea-headless:50051").target, "dns:///fovea-headless:50051");
  EXPECT_EQ(ParseServerList("ipv4:10.0.0.1:1,10.0.0.2:1").target, "ipv4:10.0.0.1:1,10.0.0.2:1");
}

TEST(ServerListTest, ListBecomesOneIpUri) {
  const ServerTarget v4 = ParseServerList("127.0.0.1:5001,localhost:5002,10.1.2.3:5003");
  EXPECT_EQ(v4.error, "");
  EXPECT_EQ(v4.target, "ipv4:127.0.0.1:5001,127.0.0.1:5002,10.1.2.3:5003");
  EXPECT_EQ(ParseServerList("[::1]:5001,[fe80::1]:5002").target, "ipv6:[::1]:5001,[fe80::1]:5002");
}

TEST(ServerListTest, ListErrorsNameTheEntry) {
  EXPECT_EQ(ParseServerList("127.0.0.1:1,fovea.example:2").error,
            "--server list entry 'fovea.example:2' is not IP:PORT; a list takes IPv4 or [IPv6] addresses (use "
            "dns:///NAME:PORT for a name)");
  EXPECT_NE(ParseServerList("127.0.0.1:1,").error, "");
  EXPECT_NE(ParseServerList("127.0.0.1:1,127.0.0.1:99999").error, "");
  EXPECT_NE(ParseServerList("127.0.0.1,127.0.0.2").error, "");
  EXPECT_EQ(ParseServerList("127.0.0.1:1,[::1]:2").error, "--server list mixes IPv4 and IPv6 addresses");
  EXPECT_EQ(ParseServerList("127.0.0.1:1,[::1]:2").target, "");
}

}  // namespace
}  // namespace fovea::client
