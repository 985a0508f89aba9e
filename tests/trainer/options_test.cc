// fovea-train's command line: defaults of the documented recipe, value parsing and errors naming the flag.

#include <gtest/gtest.h>

#include "trainer/options.h"

namespace fovea::trainer {
namespace {

TEST(Options, DefaultsAreTheDefaultRecipe) {
  auto c = ParseCommandLine({"fovea-train", "--output", "out"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->architecture, "default");
  EXPECT_EQ(c->train.epochs, 15);
  EXPECT_EQ(c->train.batch_size, 128);
  EXPECT_EQ(c->train.augment.crop_padding, 2);
  EXPECT_TRUE(c->train.augment.horizontal_flip);
  EXPECT_EQ(c->train.normalization.mean, std::vector<float>{0.0f});
  EXPECT_EQ(c->train.normalization.std, std::vector<float>{1.0f});
  EXPECT_EQ(c->train.checkpoint_path, "out/checkpoint.bin");
  EXPECT_EQ(c->command, "fovea-train --output out");
}

TEST(Options, ParsesValues) {
  auto c = ParseCommandLine({"/any/path/fovea-train", "--output", "o", "--epochs", "3", "--lr", "0.05", "--mean",
                             "0.5,0.25,0.125", "--optimizer", "adamw", "--no-flip", "--resume", "--threads", "2"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->train.epochs, 3);
  EXPECT_FLOAT_EQ(c->train.schedule.peak_lr, 0.05f);
  EXPECT_EQ(c->train.normalization.mean, (std::vector<float>{0.5f, 0.25f, 0.125f}));
  EXPECT_EQ(c->train.optimizer.kind, "adamw");
  EXPECT_FALSE(c->train.augment.horizontal_flip);
  EXPECT_TRUE(c->train.resume);
  EXPECT_EQ(c->threads, 2);
  EXPECT_EQ(c->command.rfind("fovea-train --output o", 0), 0u);
}

TEST(Options, ErrorsNameTheFlag) {
  const std::vector<std::vector<std::string>> bad = {
      {"fovea-train", "--output", "o", "--epochs", "many"},
      {"fovea-train", "--output", "o", "--epochs", "0"},
      {"fovea-train", "--output", "o", "--std", "0"},
      {"fovea-train", "--output", "o", "--batch-size"},
  };
  for (const auto& args : bad) {
    auto c = ParseCommandLine(args);
    ASSERT_FALSE(c.ok()) << args[3];
    EXPECT_NE(c.status().message().find(args[3]), std::string::npos) << c.status().message();
  }
  auto unknown = ParseCommandLine({"fovea-train", "--output", "o", "--frobnicate"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("--frobnicate"), std::string::npos);
  EXPECT_FALSE(ParseCommandLine({"fovea-train"}).ok());  // --output is required
  EXPECT_TRUE(ParseCommandLine({"fovea-train", "--help"}).ok());
}

TEST(Options, HelpDocumentsEveryValueFlag) {
  const std::string help = HelpText();
  for (const char* flag : {"--data", "--output", "--arch", "--epochs", "--batch-size", "--lr", "--threads", "--resume",
                           "--image-folder", "--background-class", "--mean", "--std", "--predictions"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace fovea::trainer
