#include "trainer/options.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "common/flags.h"
#include "trainer/network_spec.h"

namespace fovea::trainer {
namespace {

constexpr int64_t kMaxImageSide = 4096;
constexpr int64_t kMaxCount = 1'000'000'000;
constexpr int64_t kMaxSeed = 9'000'000'000'000'000;

// Comma-separated numbers ("0.5,0.25,0.125"), one per channel.
StatusOr<std::vector<float>> ParseFloats(const std::string& text) {
  std::vector<float> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    FOVEA_ASSIGN_OR_RETURN(double v,
                           ParseNumber(text.substr(start, comma - start), std::numeric_limits<double>::lowest(),
                                       std::numeric_limits<double>::max()));
    values.push_back(static_cast<float>(v));
    start = comma + 1;
  }
  return values;
}

std::string FloatsText(const std::vector<float>& values) {
  std::string text;
  for (const float v : values) {
    if (!text.empty()) text += ',';
    text += NumberText(v);
  }
  return text;
}

// The command line before any flag: the default recipe.
CommandLine Defaults() {
  CommandLine c;
  c.train.augment = {2, true};
  return c;
}

void AddDataFlags(FlagSet& flags, CommandLine& c) {
  flags.Section("Data");
  flags.Add(TextFlag("data", &c.data_dir, "DIR",
                     "IDX dataset directory with train-{images,labels} and t10k-* files, gzipped or not."));
  flags.Add(TextFlag("image-folder", &c.image_folder, "DIR",
                     "Train on DIR/<class>/*.png|jpg instead (classes = sub-folder names, sorted)."));
  flags.Add(TextFlag("test-folder", &c.test_folder, "DIR", "The image-folder test set.")
                .Default("report on the validation split"));
  flags.Add(IntegerFlag("channels", &c.image_channels, 1, 3, "N", "Channels folder images become."));
  flags.Add(IntegerFlag("image-height", &c.image_height, 1, kMaxImageSide, "N", "Height folder images become."));
  flags.Add(IntegerFlag("image-width", &c.image_width, 1, kMaxImageSide, "N", "Width folder images become."));
  flags.Add(SwitchFlag("background-class", &c.background_class,
                       "Add a \"background\" class: empty and noise windows, partial items, two items' facing parts, "
                       "small fragments (twice an average class's count; see trainer/background.h)."));
  flags.Add(NumberFlag("validation", &c.validation_fraction, 0, 0.9, "F",
                       "Fraction of the training images held out for per-epoch validation."));
  flags.Add(IntegerFlag("limit-per-class", &c.limit_per_class, 0, kMaxCount, "N",
                        "Use only the first N training images of each class; 0 = all.")
                .Default("all"));
  flags.Add(
      IntegerFlag("test-limit-per-class", &c.test_limit_per_class, 0, kMaxCount, "N", "Likewise for the test set.")
          .Default("all"));
  flags.Add(IntegerFlag("crop-padding", &c.train.augment.crop_padding, 0, 64, "N",
                        "Random crop from the image zero-padded by N pixels; 0 = off."));
  flags.Add(SwitchFlag("no-flip", &c.train.augment.horizontal_flip, "No random horizontal flips.", false));
  flags.Add(CustomFlag("mean", "LIST",
                       "Input normalization of [0,1] pixels, comma-separated per channel (the default scales only, "
                       "so zero padding equals a black background).",
                       [&c](const std::string& v) -> Status {
                         FOVEA_ASSIGN_OR_RETURN(c.train.normalization.mean, ParseFloats(v));
                         return OkStatus();
                       })
                .Default(FloatsText(c.train.normalization.mean)));
  flags.Add(CustomFlag("std", "LIST", "Likewise, the divisors.", [&c](const std::string& v) -> Status {
              FOVEA_ASSIGN_OR_RETURN(c.train.normalization.std, ParseFloats(v));
              for (const float s : c.train.normalization.std) {
                if (s <= 0.0f) return InvalidArgument("values must be positive");
              }
              return OkStatus();
            }).Default(FloatsText(c.train.normalization.std)));
}

void AddModelFlags(FlagSet& flags, CommandLine& c) {
  flags.Section("Model");
  flags.Add(TextFlag("arch", &c.architecture, "SPEC",
                     "Architecture spec or preset (listed below). Tokens: cN[kK][sS] conv+BN+ReLU, rN[sS] residual "
                     "block (two 3x3 conv+BN, the first with stride S, plus the input or its 1x1 projection, "
                     "then ReLU), p[K][sS] max pool, a[K][sS] average pool, gap global average pool, fcN "
                     "dense+ReLU; the classifier is appended."));
  flags.Add(TextFlag("from", &c.from_model, "MODEL.onnx",
                     "Fine-tune this classifier (any ONNX CNN the engine loads) instead of training --arch: its "
                     "final fully connected layer is replaced for the new classes and trained with the rest frozen; "
                     "its input size and normalization are used."));
  flags.Add(IntegerFlag("unfreeze-epochs", &c.unfreeze_epochs, 0, 1'000'000, "N",
                        "With --from: after the head-only epochs, train every layer N more epochs (the source must "
                        "be a fovea-train model: its fovea.train.architecture rebuilds the network)."));
  flags.Add(NumberFlag("backbone-lr-scale", &c.backbone_lr_scale, 0, 1, "F",
                       "With --unfreeze-epochs: the backbone's learning rate as a fraction of the new layer's."));
}

void AddTrainingFlags(FlagSet& flags, CommandLine& c) {
  TrainOptions& t = c.train;
  flags.Section("Training");
  flags.Add(IntegerFlag("epochs", &t.epochs, 1, 1'000'000, "N", "Passes over the training set."));
  flags.Add(IntegerFlag("batch-size", &t.batch_size, 1, 65536, "N", "Images per step."));
  flags.Add(NumberFlag("lr", &t.schedule.peak_lr, 1e-9, 100, "F", "Peak learning rate."));
  flags.Add(IntegerFlag("seed", &t.seed, 0, kMaxSeed, "N", "Seed of initialization, shuffling and augmentation."));
  flags.Add(
      IntegerFlag("threads", &c.threads, 0, 1024, "N", "oneDNN/OpenMP threads; 0 = all cores.").Default("all cores"));
  flags.Add(TextFlag("optimizer", &t.optimizer.kind, "sgd|adamw", "Optimizer."));
  flags.Add(NumberFlag("momentum", &t.optimizer.momentum, 0, 1, "F", "SGD momentum."));
  flags.Add(CustomFlag("nesterov", "true|false", "Nesterov momentum for SGD (--nesterov=false turns it off).",
                       [&t](const std::string& v) -> Status {
                         if (v != "true" && v != "false") return InvalidArgument("'" + v + "' is not true or false");
                         t.optimizer.nesterov = v == "true";
                         return OkStatus();
                       })
                .Default(t.optimizer.nesterov ? "true" : "false"));
  flags.Add(NumberFlag("weight-decay", &t.optimizer.weight_decay, 0, 1, "F", "Decoupled weight decay."));
  flags.Add(TextFlag("schedule", &t.schedule.kind, "onecycle|cosine|constant", "Learning-rate schedule."));
  flags.Add(IntegerFlag("warmup-steps", &t.schedule.warmup_steps, 0, kMaxCount, "N", "Linear warm-up (cosine)."));
  flags.Add(NumberFlag("label-smoothing", &t.label_smoothing, 0, 0.999, "F", "Label smoothing of the loss."));
  flags.Add(
      TextFlag("checkpoint", &t.checkpoint_path, "PATH", "Written after every epoch.").Default("DIR/checkpoint.bin"));
  flags.Add(SwitchFlag("resume", &t.resume, "Continue from the checkpoint with the next epoch."));
  flags.Add(
      SwitchFlag("no-progress", &t.progress, "No in-place progress line (epoch summaries are still logged).", false));
}

void AddOutputFlags(FlagSet& flags, CommandLine& c) {
  flags.Section("Output");
  flags.Add(TextFlag("output", &c.output_dir, "DIR",
                     "Where model.onnx (opset 13, fovea.* metadata), MODEL.md, training_curves.svg and "
                     "confusion_matrix.svg go (required)."));
  flags.Add(TextFlag("name", &c.model_name, "NAME", "Model name for the card."));
  flags.Add(TextFlag("predictions", &c.predictions_path, "PATH",
                     "Also write the test predictions as CSV: test_index,label,predicted,probability."));
}

// fovea-train's flag table, bound to `c` (which must outlive it).
FlagSet TrainFlags(CommandLine& c) {
  std::string presets = "Architecture presets (--arch NAME):\n";
  for (const auto& [name, spec] : Presets()) presets += fmt::format("  {:8} {}\n", name, spec);
  FlagSet flags({.usage = "fovea-train --output DIR [FLAGS]\n"
                          "       fovea-train quantize --model FLOAT.onnx --output DIR [FLAGS]   (int8; see "
                          "fovea-train quantize --help)",
                 .description = "Trains a CNN classifier on oneDNN and exports it as ONNX with a model card.",
                 .epilogue = presets,
                 .see_help = "--help"});
  AddDataFlags(flags, c);
  AddModelFlags(flags, c);
  AddTrainingFlags(flags, c);
  AddOutputFlags(flags, c);
  return flags;
}

}  // namespace

StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine c = Defaults();
  // The card shows the command as a user would type it, whatever path the binary was started from.
  c.command = "fovea-train";
  for (size_t i = 1; i < args.size(); ++i) c.command += " " + args[i];
  const std::vector<std::string> flags(args.empty() ? args.end() : args.begin() + 1, args.end());
  FOVEA_ASSIGN_OR_RETURN(const ParsedArgs parsed, TrainFlags(c).Parse(flags));
  c.help = parsed.help;
  if (!c.help && c.output_dir.empty()) return InvalidArgument("--output DIR is required (see --help)");
  if (c.unfreeze_epochs > 0 && c.from_model.empty()) {
    return InvalidArgument("--unfreeze-epochs fine-tunes a model given with --from MODEL.onnx");
  }
  if (c.train.checkpoint_path.empty() && !c.output_dir.empty())
    c.train.checkpoint_path = c.output_dir + "/checkpoint.bin";
  return c;
}

std::string RecipeSummary(const TrainOptions& o) {
  std::string optimizer = o.optimizer.kind == "sgd"
                              ? fmt::format("sgd(momentum {}{}, weight decay {})", o.optimizer.momentum,
                                            o.optimizer.nesterov ? ", nesterov" : "", o.optimizer.weight_decay)
                              : fmt::format("adamw(weight decay {})", o.optimizer.weight_decay);
  return fmt::format(
      "{}, {} schedule peak lr {}, batch {}, {} epochs, augmentation: crop padding {}{}, label "
      "smoothing {}",
      optimizer, o.schedule.kind, o.schedule.peak_lr, o.batch_size, o.epochs, o.augment.crop_padding,
      o.augment.horizontal_flip ? " + horizontal flip" : "", o.label_smoothing);
}

std::string HelpText() {
  CommandLine defaults = Defaults();
  return TrainFlags(defaults).Help();
}

}  // namespace fovea::trainer
