// The training report: MODEL.md with the numbers a reader needs, and well-formed SVG pictures.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "trainer/report.h"
#include "trainer/svg.h"

namespace fovea::trainer {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

ReportInputs SampleReport() {
  ReportInputs r;
  r.model_name = "sample-model";
  r.command = "fovea-train --output out --epochs 2";
  r.architecture = "c8,p,gap";
  r.recipe = "sgd";
  r.labels = {"cat", "dog & <wolf>"};
  r.history = {{1, 0.9, 0.6, 0.8, 0.65, 0.1, 2.0, 100}, {2, 0.5, 0.8, 0.55, 0.78, 0.01, 2.0, 100}};
  r.test.accuracy = 0.75;
  r.test.confusion = {3, 1, 1, 3};
  r.test_images = 8;
  r.training_seconds = 4.0;
  return r;
}

std::string ModelCardForTest(const fs::path& dir, const ReportInputs& inputs) {
  EXPECT_TRUE(WriteReport(dir.string(), inputs).ok());
  return ReadAll(dir / "MODEL.md");
}

TEST(Report, WritesModelCardAndPictures) {
  const fs::path dir = fs::temp_directory_path() / ("fovea_report_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ASSERT_TRUE(WriteReport(dir.string(), SampleReport()).ok());
  const std::string card = ReadAll(dir / "MODEL.md");
  EXPECT_NE(card.find("# sample-model"), std::string::npos);
  EXPECT_NE(card.find("75.00%"), std::string::npos);
  EXPECT_NE(card.find("fovea-train --output out --epochs 2"), std::string::npos);
  EXPECT_NE(card.find("| dog & <wolf> | 75.00% |"), std::string::npos);
  EXPECT_NE(card.find("confusion_matrix.svg"), std::string::npos);
  const std::string confusion = ReadAll(dir / "confusion_matrix.svg");
  EXPECT_EQ(confusion.rfind("<svg", 0), 0u);
  EXPECT_NE(confusion.find("dog &amp; &lt;wolf&gt;"), std::string::npos);
  EXPECT_NE(confusion.find("</svg>"), std::string::npos);
  const std::string curves = ReadAll(dir / "training_curves.svg");
  EXPECT_NE(curves.find("validation accuracy"), std::string::npos);
  EXPECT_EQ(std::count(curves.begin(), curves.end(), '<'), std::count(curves.begin(), curves.end(), '>'));
  fs::remove_all(dir);
}

TEST(Report, StatesTheAccuracyOnTheRealClassesWhenABackgroundClassWasAdded) {
  const fs::path dir = fs::temp_directory_path() / ("fovea_report_bg_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  ReportInputs r = SampleReport();
  EXPECT_EQ(ModelCardForTest(dir, r).find("real classes"), std::string::npos);
  r.labels = {"cat", "dog", "background"};
  r.background_class = 2;
  // Rows: true class. cat 4/5 right, dog 3/5 right (one taken for background), background 4/5 right.
  r.test.confusion = {4, 0, 1, 1, 3, 1, 0, 1, 4};
  r.test.accuracy = 11.0 / 15.0;
  r.test_images = 15;
  const std::string card = ModelCardForTest(dir, r);
  EXPECT_NE(card.find("On the 2 real classes alone (the 5 generated background images left out"), std::string::npos)
      << card;
  EXPECT_NE(card.find("**70.00%** on 10 images"), std::string::npos) << card;
  fs::remove_all(dir);
}

TEST(Svg, LineChartScalesToTheData) {
  const std::string svg = LineChartSvg("t", "y", {{"a", "red", {0.5, 0.7, 0.9}}});
  EXPECT_NE(svg.find("0.900"), std::string::npos);  // top tick is the maximum
  EXPECT_NE(svg.find("0.500"), std::string::npos);  // bottom tick is the minimum
  EXPECT_NE(svg.find("<path"), std::string::npos);
}

}  // namespace
}  // namespace fovea::trainer
