#include "trainer/options.h"

#include <fmt/format.h>

#include <charconv>
#include <functional>
#include <map>

#include "trainer/network_spec.h"

namespace fovea::trainer {
StatusOr<double> ParseNumber(const std::string& flag, const std::string& text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument(flag + ": '" + text + "' is not a number");
  }
  return value;
}

namespace {

StatusOr<std::vector<float>> ParseFloats(const std::string& flag, const std::string& text) {
  std::vector<float> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    FOVEA_ASSIGN_OR_RETURN(double v, ParseNumber(flag, text.substr(start, comma - start)));
    values.push_back(static_cast<float>(v));
    start = comma + 1;
  }
  return values;
}

using Setter = std::function<Status(CommandLine&, const std::string&)>;

std::map<std::string, Setter> ValueFlags() {
  const auto number = [](auto setter, double lo, double hi) -> Setter {
    return [=](CommandLine& c, const std::string& v) -> Status {
      auto parsed = ParseNumber("value", v);
      if (!parsed.ok()) return parsed.status();
      if (*parsed < lo || *parsed > hi) return InvalidArgument(fmt::format("{} is outside [{}, {}]", v, lo, hi));
      setter(c, *parsed);
      return OkStatus();
    };
  };
  const auto text = [](auto setter) -> Setter {
    return [=](CommandLine& c, const std::string& v) -> Status {
      setter(c, v);
      return OkStatus();
    };
  };
  return {
      {"--data", text([](CommandLine& c, const std::string& v) { c.data_dir = v; })},
      {"--output", text([](CommandLine& c, const std::string& v) { c.output_dir = v; })},
      {"--arch", text([](CommandLine& c, const std::string& v) { c.architecture = v; })},
      {"--image-folder", text([](CommandLine& c, const std::string& v) { c.image_folder = v; })},
      {"--test-folder", text([](CommandLine& c, const std::string& v) { c.test_folder = v; })},
      {"--channels", number([](CommandLine& c, double v) { c.image_channels = static_cast<int64_t>(v); }, 1, 3)},
      {"--image-height", number([](CommandLine& c, double v) { c.image_height = static_cast<int64_t>(v); }, 1, 4096)},
      {"--image-width", number([](CommandLine& c, double v) { c.image_width = static_cast<int64_t>(v); }, 1, 4096)},
      {"--predictions", text([](CommandLine& c, const std::string& v) { c.predictions_path = v; })},
      {"--name", text([](CommandLine& c, const std::string& v) { c.model_name = v; })},
      {"--checkpoint", text([](CommandLine& c, const std::string& v) { c.train.checkpoint_path = v; })},
      {"--optimizer", text([](CommandLine& c, const std::string& v) { c.train.optimizer.kind = v; })},
      {"--schedule", text([](CommandLine& c, const std::string& v) { c.train.schedule.kind = v; })},
      {"--epochs", number([](CommandLine& c, double v) { c.train.epochs = static_cast<int64_t>(v); }, 1, 1e6)},
      {"--batch-size",
       number([](CommandLine& c, double v) { c.train.batch_size = static_cast<int64_t>(v); }, 1, 65536)},
      {"--lr", number([](CommandLine& c, double v) { c.train.schedule.peak_lr = static_cast<float>(v); }, 1e-9, 100)},
      {"--warmup-steps",
       number([](CommandLine& c, double v) { c.train.schedule.warmup_steps = static_cast<int64_t>(v); }, 0, 1e9)},
      {"--momentum",
       number([](CommandLine& c, double v) { c.train.optimizer.momentum = static_cast<float>(v); }, 0, 1)},
      {"--weight-decay",
       number([](CommandLine& c, double v) { c.train.optimizer.weight_decay = static_cast<float>(v); }, 0, 1)},
      {"--label-smoothing",
       number([](CommandLine& c, double v) { c.train.label_smoothing = static_cast<float>(v); }, 0, 0.999)},
      {"--seed", number([](CommandLine& c, double v) { c.train.seed = static_cast<uint64_t>(v); }, 0, 9e15)},
      {"--validation", number([](CommandLine& c, double v) { c.validation_fraction = v; }, 0, 0.9)},
      {"--crop-padding",
       number([](CommandLine& c, double v) { c.train.augment.crop_padding = static_cast<int64_t>(v); }, 0, 64)},
      {"--limit-per-class",
       number([](CommandLine& c, double v) { c.limit_per_class = static_cast<int64_t>(v); }, 0, 1e9)},
      {"--test-limit-per-class",
       number([](CommandLine& c, double v) { c.test_limit_per_class = static_cast<int64_t>(v); }, 0, 1e9)},
      {"--threads", number([](CommandLine& c, double v) { c.threads = static_cast<int>(v); }, 0, 1024)},
      {"--mean",
       [](CommandLine& c, const std::string& v) -> Status {
         FOVEA_ASSIGN_OR_RETURN(c.train.normalization.mean, ParseFloats("--mean", v));
         return OkStatus();
       }},
      {"--std",
       [](CommandLine& c, const std::string& v) -> Status {
         FOVEA_ASSIGN_OR_RETURN(c.train.normalization.std, ParseFloats("--std", v));
         for (const float s : c.train.normalization.std) {
           if (s <= 0.0f) return InvalidArgument("--std values must be positive");
         }
         return OkStatus();
       }},
  };
}

}  // namespace

StatusOr<CommandLine> ParseCommandLine(const std::vector<std::string>& args) {
  CommandLine c;
  c.train.augment = {2, true};
  // The card shows the command as a user would type it, whatever path the binary was started from.
  c.command = "fovea-train";
  for (size_t i = 1; i < args.size(); ++i) c.command += " " + args[i];
  const auto flags = ValueFlags();
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (flag == "--help" || flag == "-h") {
      c.help = true;
    } else if (flag == "--resume") {
      c.train.resume = true;
    } else if (flag == "--no-flip") {
      c.train.augment.horizontal_flip = false;
    } else if (flag == "--background-class") {
      c.background_class = true;
    } else if (flag == "--no-progress") {
      c.train.progress = false;
    } else if (flag == "--nesterov=false") {
      c.train.optimizer.nesterov = false;
    } else if (auto it = flags.find(flag); it != flags.end()) {
      if (i + 1 >= args.size()) return InvalidArgument(flag + " needs a value");
      const Status status = it->second(c, args[++i]);
      if (!status.ok()) return InvalidArgument(flag + ": " + status.message());
    } else {
      return InvalidArgument("unknown flag '" + flag + "' (see --help)");
    }
  }
  if (!c.help && c.output_dir.empty()) return InvalidArgument("--output DIR is required (see --help)");
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
  std::string presets;
  for (const auto& [name, spec] : Presets()) presets += fmt::format("                          {:8} {}\n", name, spec);
  return fmt::format(R"(fovea-train: trains a CNN classifier on oneDNN and exports it as ONNX with a model card.

Usage: fovea-train --output DIR [flags]
       fovea-train quantize --model FLOAT.onnx --output DIR [flags]   (int8; see fovea-train quantize --help)

Data
  --data DIR              IDX dataset directory with train-{{images,labels}} and t10k-* files, gzipped or not
                          (default /usr/share/datasets/fashion-mnist)
  --image-folder DIR      train on DIR/<class>/*.png|jpg instead (classes = sub-folder names, sorted)
  --test-folder DIR       the image-folder test set (default: report on the validation split)
  --channels N, --image-height N, --image-width N   what folder images become (default 1, 28, 28)
  --background-class      add a "background" class: empty and noise windows, partial items, two items' facing
                          parts, small fragments (twice an average class's count; see trainer/background.h)
  --validation F          fraction of the training images held out for per-epoch validation (default 0.05)
  --limit-per-class N     use only the first N training images of each class (default all)
  --test-limit-per-class N  likewise for the test set
  --crop-padding N        random crop from the image zero-padded by N pixels (default 2, 0 = off)
  --no-flip               no random horizontal flips
  --mean LIST, --std LIST input normalization of [0,1] pixels, comma-separated per channel (default 0 and 1:
                          scale only, so zero padding equals a black background)
Model
  --arch SPEC             architecture spec or preset (default "default"). Tokens: cN[kK][sS] conv+BN+ReLU,
                          p[K][sS] max pool, a[K][sS] average pool, gap global average pool, fcN dense+ReLU;
                          the classifier is appended. Presets:
{}Training
  --epochs N (15)  --batch-size N (128)  --lr F (0.1, the peak)  --seed N (1)  --threads N (all cores)
  --optimizer sgd|adamw (sgd: momentum 0.9, Nesterov; --momentum F, --nesterov=false)  --weight-decay F (5e-4)
  --schedule onecycle|cosine|constant (onecycle)  --warmup-steps N (cosine)  --label-smoothing F (0.1)
  --checkpoint PATH       written after every epoch (default DIR/checkpoint.bin)
  --resume                continue from the checkpoint with the next epoch
  --no-progress           no in-place progress line (epoch summaries are still logged)
Output (in --output DIR)
  model.onnx (opset 13, fovea.* metadata), MODEL.md, training_curves.svg, confusion_matrix.svg
  --name NAME             model name for the card (default fashion-mnist)
  --predictions PATH      also write the test predictions as CSV: test_index,label,predicted,probability
)",
                     presets);
}

}  // namespace fovea::trainer
