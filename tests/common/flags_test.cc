// The flag parser every binary uses: syntax, errors as users read them, environment precedence and --help layout.

#include "common/flags.h"

#include <gtest/gtest.h>

#include <map>

namespace fovea {
namespace {

// What the test table sets.
struct Settings {
  std::string server = "localhost:1";
  int64_t top_k = 5;
  double rate = 0.5;
  bool decode_locally = false;
  std::optional<std::string> token;
  std::string format = "table";
};

FlagSet MakeFlags(Settings& s, bool positionals = true, std::string see_help = "") {
  FlagSet flags({.usage = "tool [FLAGS] PATH...",
                 .description = "Does things.",
                 .epilogue = "More at docs/.",
                 .positionals = positionals,
                 .see_help = std::move(see_help)});
  flags.Add(TextFlag("server", &s.server, "HOST:PORT", "Where the server listens.").Env("TOOL_SERVER"));
  flags.Add(IntegerFlag("top-k", &s.top_k, 1, 10, "K", "Classes per image.").Env("TOOL_TOP_K"));
  flags.Add(NumberFlag("rate", &s.rate, 0, 100, "R", "Requests per second."));
  flags.Add(SwitchFlag("decode-locally", &s.decode_locally, "Decode here."));
  flags.Add(TextFlag("token", &s.token, "FILE", "A token file."));
  flags.Add(CustomFlag("format", "F", "table or json.", [&s](const std::string& value) {
              if (value != "table" && value != "json") return InvalidArgument("'" + value + "' is not table or json");
              s.format = value;
              return OkStatus();
            }).Default("table"));
  return flags;
}

EnvLookup FakeEnv(std::map<std::string, std::string> values) {
  return [values](const std::string& name) -> std::optional<std::string> {
    const auto found = values.find(name);
    if (found == values.end()) return std::nullopt;
    return found->second;
  };
}

TEST(FlagSetTest, ValuesSwitchesAndPositionalsInAnyOrder) {
  Settings s;
  const auto parsed =
      MakeFlags(s).Parse({"a.png", "--server", "h:1", "--decode-locally", "--top-k=3", "dir", "--rate=2.5"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(s.server, "h:1");
  EXPECT_EQ(s.top_k, 3);
  EXPECT_DOUBLE_EQ(s.rate, 2.5);
  EXPECT_TRUE(s.decode_locally);
  EXPECT_EQ(parsed->positionals, (std::vector<std::string>{"a.png", "dir"}));
  EXPECT_FALSE(parsed->help);
}

TEST(FlagSetTest, DefaultsStayWhenFlagsAreAbsent) {
  Settings s;
  ASSERT_TRUE(MakeFlags(s).Parse({}).ok());
  EXPECT_EQ(s.server, "localhost:1");
  EXPECT_EQ(s.top_k, 5);
  EXPECT_FALSE(s.decode_locally);
  EXPECT_FALSE(s.token.has_value());
}

TEST(FlagSetTest, OptionalTextRecordsThatAnEmptyValueWasGiven) {
  Settings s;
  ASSERT_TRUE(MakeFlags(s).Parse({"--token="}).ok());
  EXPECT_EQ(s.token, std::optional<std::string>(""));
}

TEST(FlagSetTest, DoubleDashEndsFlags) {
  Settings s;
  const auto parsed = MakeFlags(s).Parse({"--", "--server", "-h"});
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->positionals, (std::vector<std::string>{"--server", "-h"}));
  EXPECT_FALSE(parsed->help);
  EXPECT_EQ(s.server, "localhost:1");
}

TEST(FlagSetTest, HelpInEitherSpelling) {
  Settings s;
  for (const char* spelling : {"--help", "-h"}) {
    const auto parsed = MakeFlags(s, false).Parse({spelling});
    ASSERT_TRUE(parsed.ok()) << spelling;
    EXPECT_TRUE(parsed->help) << spelling;
  }
}

TEST(FlagSetTest, EnvironmentAppliesFirstAndFlagsWin) {
  Settings s;
  ASSERT_TRUE(MakeFlags(s).Parse({"--top-k", "7"}, FakeEnv({{"TOOL_SERVER", "env:1"}, {"TOOL_TOP_K", "2"}})).ok());
  EXPECT_EQ(s.server, "env:1");
  EXPECT_EQ(s.top_k, 7);
  Settings unread;
  ASSERT_TRUE(MakeFlags(unread).Parse({}).ok()) << "without a lookup no variable is read";
  EXPECT_EQ(unread.server, "localhost:1");
}

struct ErrorCase {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  bool positionals;
  std::string see_help;
  std::string message;
};

class FlagSetErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(FlagSetErrorTest, InvalidArgumentNamingTheFlag) {
  Settings s;
  const ErrorCase& c = GetParam();
  const auto parsed = MakeFlags(s, c.positionals, c.see_help).Parse(c.args, FakeEnv(c.env));
  ASSERT_FALSE(parsed.ok()) << c.message;
  EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parsed.status().message(), c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FlagSetErrorTest,
    ::testing::Values(ErrorCase{{"--bogus"}, {}, true, "", "unknown flag --bogus"},
                      ErrorCase{{"--bogus=1"}, {}, false, "--help", "unknown flag --bogus (see --help)"},
                      ErrorCase{{"stray"}, {}, false, "--help", "unexpected argument 'stray' (see --help)"},
                      ErrorCase{{"-x"}, {}, false, "", "unexpected argument '-x'"},
                      ErrorCase{{"--server"}, {}, true, "", "flag --server needs a value"},
                      ErrorCase{{"--decode-locally=yes"}, {}, true, "", "flag --decode-locally takes no value"},
                      ErrorCase{{"--help=please"}, {}, true, "", "flag --help takes no value"},
                      ErrorCase{{"--top-k", "many"}, {}, true, "", "flag --top-k: 'many' is not an integer"},
                      ErrorCase{{"--top-k=3.0"}, {}, true, "", "flag --top-k: '3.0' is not an integer"},
                      ErrorCase{{"--top-k="}, {}, true, "", "flag --top-k: '' is not an integer"},
                      ErrorCase{{"--top-k", "11"}, {}, true, "", "flag --top-k: 11 is outside [1, 10]"},
                      ErrorCase{{"--rate", "fast"}, {}, true, "", "flag --rate: 'fast' is not a number"},
                      ErrorCase{{"--rate", "nan"}, {}, true, "", "flag --rate: 'nan' is not a number"},
                      ErrorCase{{"--rate", "1e3"}, {}, true, "", "flag --rate: 1e3 is outside [0, 100]"},
                      ErrorCase{{"--format", "xml"}, {}, true, "", "flag --format: 'xml' is not table or json"},
                      ErrorCase{{}, {{"TOOL_TOP_K", "0"}}, true, "", "environment TOOL_TOP_K: 0 is outside [1, 10]"},
                      ErrorCase{{"--top-k", "3", "--bogus", "--top-k", "4"}, {}, true, "", "unknown flag --bogus"}));

TEST(FlagSetTest, HelpComesFromTheTable) {
  Settings s;
  EXPECT_EQ(MakeFlags(s).Help(),
            "Usage: tool [FLAGS] PATH...\n"
            "\n"
            "Does things.\n"
            "\n"
            "Flags:\n"
            "  --server HOST:PORT        Where the server listens. (default localhost:1) [$TOOL_SERVER]\n"
            "  --top-k K                 Classes per image. (default 5) [$TOOL_TOP_K]\n"
            "  --rate R                  Requests per second. (default 0.5)\n"
            "  --decode-locally          Decode here.\n"
            "  --token FILE              A token file.\n"
            "  --format F                table or json. (default table)\n"
            "  -h, --help                Print this text and exit.\n"
            "\n"
            "More at docs/.\n");
}

TEST(FlagSetTest, HelpWrapsLongTextAndKeepsAnnotationsWhole) {
  std::string path = "/usr/share/datasets/fashion-mnist";
  int64_t count = 0;
  FlagSet flags({.usage = "tool"});
  flags.Section("Data");
  flags.Add(TextFlag("a-rather-long-flag-name", &path, "DIR",
                     "Where the images are read from; every sub-folder is a class, and its name is the label that "
                     "the model card shows.\nA second line."));
  flags.Section("Limits");
  flags.Add(IntegerFlag("count", &count, 0, 9, "N", "How many.").Default("all"));
  EXPECT_EQ(flags.Help(),
            "Usage: tool\n"
            "\n"
            "Data\n"
            "  --a-rather-long-flag-name DIR\n"
            "                            Where the images are read from; every sub-folder is a class, and its\n"
            "                            name is the label that the model card shows.\n"
            "                            A second line. (default /usr/share/datasets/fashion-mnist)\n"
            "\n"
            "Limits\n"
            "  --count N                 How many. (default all)\n"
            "  -h, --help                Print this text and exit.\n");
}

TEST(FlagSetTest, HelpWrapsTheDescriptionByParagraph) {
  FlagSet flags({.usage = "tool",
                 .description = "Reads every image of the folders given and writes one line per image with its top "
                                "classes,\ntheir probabilities and the time it took.\n\nSecond paragraph.",
                 .epilogue = "Kept   as\n  written."});
  EXPECT_EQ(flags.Help(),
            "Usage: tool\n"
            "\n"
            "Reads every image of the folders given and writes one line per image with its top classes, their\n"
            "probabilities and the time it took.\n"
            "\n"
            "Second paragraph.\n"
            "\n"
            "Flags:\n"
            "  -h, --help                Print this text and exit.\n"
            "\n"
            "Kept   as\n"
            "  written.\n");
}

TEST(ParseIntegerTest, IsStrict) {
  EXPECT_EQ(*ParseInteger("12", 1, 100), 12);
  EXPECT_EQ(*ParseInteger("-3", -5, 5), -3);
  for (const char* text : {"12x", "", " 12", "+12", "1e3", "99999999999999999999"}) {
    const auto parsed = ParseInteger(text, 1, 100);
    ASSERT_FALSE(parsed.ok()) << text;
    EXPECT_EQ(parsed.status().message(), std::string("'") + text + "' is not an integer");
  }
  EXPECT_EQ(ParseInteger("0", 1, 100).status().message(), "0 is outside [1, 100]");
}

TEST(ParseNumberTest, AcceptsDecimalAndScientificWithinRange) {
  EXPECT_DOUBLE_EQ(*ParseNumber("0.25", 0, 1), 0.25);
  EXPECT_DOUBLE_EQ(*ParseNumber("5e-4", 0, 1), 5e-4);
  EXPECT_EQ(ParseNumber("inf", 0, 1).status().message(), "'inf' is not a number");
  EXPECT_EQ(ParseNumber("2", 1e-9, 1).status().message(), "2 is outside [1e-09, 1]");
}

TEST(NumberTextTest, ShortestRoundTrip) {
  EXPECT_EQ(NumberText(0.1f), "0.1");
  EXPECT_EQ(NumberText(0.1), "0.1");
  EXPECT_EQ(NumberText(0.9f), "0.9");
  EXPECT_EQ(NumberText(10.0), "10");
}

}  // namespace
}  // namespace fovea
