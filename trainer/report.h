#pragma once
// The training report written next to the exported model: MODEL.md (model card: data, exact command, time,
// accuracy, per-class accuracy, links to the pictures), training_curves.svg and confusion_matrix.svg.

#include <string>
#include <vector>

#include "trainer/evaluation.h"
#include "trainer/trainer.h"

namespace fovea::trainer {

struct ReportInputs {
  std::string model_name;    // heading of the card
  std::string command;       // the exact fovea-train command line
  std::string architecture;  // resolved spec
  std::string recipe;        // optimizer / schedule / augmentation summary
  std::string train_data, test_data;
  int64_t train_images = 0, validation_images = 0, test_images = 0;
  int64_t parameters = 0;
  int threads = 0;
  uint64_t seed = 0;
  double training_seconds = 0.0;
  std::vector<std::string> labels;
  int64_t background_class = -1;  // index of the generated background class, -1 without one
  std::vector<EpochRecord> history;
  EvaluationResult test;               // final evaluation on the test set
  int64_t engine_same_top1 = 0;        // test images where the exported model run by the engine agrees on top-1
  double engine_max_difference = 0.0;  // largest probability difference engine vs trainer
};

// Writes MODEL.md and the two SVG files into `directory` (which must exist).
Status WriteReport(const std::string& directory, const ReportInputs& inputs);

}  // namespace fovea::trainer
