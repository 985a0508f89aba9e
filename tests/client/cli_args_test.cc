#include "client/cli_args.h"

#include <gtest/gtest.h>

namespace fovea::client {
namespace {

const std::vector<FlagDef> kFlags = {{"server"}, {"top-k"}, {"decode-locally", false}};

TEST(CliArgsTest, ValuesSwitchesAndPositionalsInAnyOrder) {
  const ParsedArgs parsed = ParseArgs({"a.png", "--server", "h:1", "--decode-locally", "--top-k=3", "dir"}, kFlags);
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.value_or("server", ""), "h:1");
  EXPECT_EQ(parsed.value_or("top-k", ""), "3");
  EXPECT_TRUE(parsed.has("decode-locally"));
  EXPECT_EQ(parsed.positionals, (std::vector<std::string>{"a.png", "dir"}));
}

TEST(CliArgsTest, DoubleDashEndsFlags) {
  const ParsedArgs parsed = ParseArgs({"--", "--server"}, kFlags);
  ASSERT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.positionals, std::vector<std::string>{"--server"});
}

TEST(CliArgsTest, ErrorsNameTheFlag) {
  EXPECT_EQ(ParseArgs({"--bogus"}, kFlags).error, "unknown flag --bogus");
  EXPECT_EQ(ParseArgs({"--server"}, kFlags).error, "flag --server needs a value");
  EXPECT_EQ(ParseArgs({"--decode-locally=yes"}, kFlags).error, "flag --decode-locally takes no value");
}

TEST(CliArgsTest, ParseIntegerIsStrict) {
  EXPECT_EQ(ParseInteger("12", 1, 100), 12);
  EXPECT_EQ(ParseInteger("0", 1, 100), std::nullopt);
  EXPECT_EQ(ParseInteger("12x", 1, 100), std::nullopt);
  EXPECT_EQ(ParseInteger("", 1, 100), std::nullopt);
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
