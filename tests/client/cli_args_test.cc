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

}  // namespace
}  // namespace fovea::client
