#include "client/connection_flags.h"

#include <gtest/gtest.h>

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
    const ParsedArgs parsed = ParseArgs(args, WithConnectionFlags({}));
    if (!parsed.error.empty()) return parsed.error;
    options_ = {};
    return ReadConnectionFlags(parsed, server_, options_);
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

}  // namespace
}  // namespace fovea::client
