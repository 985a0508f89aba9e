#pragma once
// fovea-train's command line: every flag, its default and its --help text.

#include <string>
#include <vector>

#include "trainer/trainer.h"

namespace fovea::trainer {

struct CommandLine {
  bool help = false;
  std::string data_dir = "/usr/share/datasets/fashion-mnist";  // IDX files (train-*, t10k-*), Debian's package path
  std::string output_dir;                                      // model.onnx, MODEL.md, SVGs, checkpoint
  std::string image_folder;  // when set, train on this image folder instead of IDX files
  std::string test_folder;   // image-folder test set (default: the validation split)
  int64_t image_channels = 1, image_height = 28, image_width = 28;  // what folder images are converted to
  bool background_class = false;                                    // add a generated "background" class
  std::string architecture = "default";
  std::string from_model;  // fine-tune this ONNX model instead of training --arch from scratch (trainer/finetune.h)
  int64_t unfreeze_epochs = 0;     // then train every layer this many epochs (a fovea-train source only)
  float backbone_lr_scale = 0.1f;  // the backbone's learning rate relative to the new layer's while unfrozen
  std::string model_name = "fashion-mnist";
  std::string checkpoint_path;  // default <output>/checkpoint.bin
  double validation_fraction = 0.05;
  int64_t limit_per_class = 0;       // training images per class (0 = all)
  int64_t test_limit_per_class = 0;  // test images per class (0 = all)
  int threads = 0;                   // 0 = oneDNN/OpenMP default (all cores)
  std::string predictions_path;      // CSV of the final test predictions (for cross-checks with other runtimes)
  TrainOptions train;
  std::string command;  // the command line as typed, for the model card
};

// Parses argv (args[0] is the program). Unknown flags and malformed values are InvalidArgument errors naming the flag.
StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args);

// The --help text, generated from the same flag table.
std::string HelpText();

// "sgd(momentum 0.9, nesterov, wd 0.0005), onecycle lr 0.1, batch 128, 15 epochs, crop pad 2 + flip, ..." for the
// model card and the fovea.train.recipe metadata.
std::string RecipeSummary(const TrainOptions& options);

}  // namespace fovea::trainer
