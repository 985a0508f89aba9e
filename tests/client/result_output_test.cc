#include "client/result_output.h"

#include <gtest/gtest.h>

#include <sstream>

namespace fovea::client {
namespace {

std::vector<ImageOutcome> SampleOutcomes() {
  ImageOutcome good;
  good.path = "dir/cat, \"fluffy\".png";
  v1::Prediction cat;
  cat.set_class_index(3);
  cat.set_label("cat");
  cat.set_probability(0.75F);
  v1::Prediction dog;
  dog.set_class_index(5);
  dog.set_label("dog");
  dog.set_probability(0.25F);
  good.predictions = {cat, dog};
  ImageOutcome bad;
  bad.path = "notes.txt";
  bad.error_code = 3;
  bad.error_message = "image 1: not a PNG or JPEG image";
  return {good, bad};
}

std::string Write(OutputFormat format) {
  std::ostringstream out;
  WriteOutcomes(out, format, SampleOutcomes());
  return out.str();
}

TEST(ResultOutputTest, CsvQuotesFieldsAndPadsErrorRows) {
  EXPECT_EQ(Write(OutputFormat::kCsv),
            "path,status,error,label_1,probability_1,label_2,probability_2\n"
            "\"dir/cat, \"\"fluffy\"\".png\",ok,,cat,0.7500,dog,0.2500\n"
            "notes.txt,INVALID_ARGUMENT,image 1: not a PNG or JPEG image,,,,\n");
}

TEST(ResultOutputTest, JsonEscapesAndReportsErrorsByName) {
  EXPECT_EQ(Write(OutputFormat::kJson),
            "[\n"
            "  {\"path\": \"dir/cat, \\\"fluffy\\\".png\", \"predictions\": [{\"class_index\": 3, \"label\": \"cat\", "
            "\"probability\": 0.7500}, {\"class_index\": 5, \"label\": \"dog\", \"probability\": 0.2500}]},\n"
            "  {\"path\": \"notes.txt\", \"error\": {\"code\": \"INVALID_ARGUMENT\", \"message\": \"image 1: not a PNG "
            "or JPEG image\"}}\n"
            "]\n");
}

TEST(ResultOutputTest, TableShowsOneLinePerImage) {
  const std::string table = Write(OutputFormat::kTable);
  EXPECT_NE(table.find("cat 0.7500, dog 0.2500"), std::string::npos) << table;
  EXPECT_NE(table.find("error INVALID_ARGUMENT: image 1: not a PNG or JPEG image"), std::string::npos) << table;
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 3);
}

TEST(ResultOutputTest, JsonStringEscapesControlCharacters) {
  EXPECT_EQ(JsonString("a\tb\x01"), "\"a\\tb\\u0001\"");
  EXPECT_EQ(ParseOutputFormat("xml"), std::nullopt);
}

}  // namespace
}  // namespace fovea::client
