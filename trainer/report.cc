#include "trainer/report.h"

#include <fmt/format.h>

#include <fstream>

#include "trainer/progress.h"
#include "trainer/svg.h"

namespace fovea::trainer {
namespace {

constexpr char kCurvesFile[] = "training_curves.svg";
constexpr char kConfusionFile[] = "confusion_matrix.svg";

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) return Internal(path + ": cannot write");
  return OkStatus();
}

std::string CurvesSvg(const std::vector<EpochRecord>& history) {
  ChartSeries train_acc{"train accuracy", "#1f77b4", {}}, val_acc{"validation accuracy", "#ff7f0e", {}};
  ChartSeries train_loss{"train loss", "#2ca02c", {}}, val_loss{"validation loss", "#d62728", {}};
  for (const auto& e : history) {
    train_acc.values.push_back(e.train_accuracy);
    val_acc.values.push_back(e.validation_accuracy);
    train_loss.values.push_back(e.train_loss);
    val_loss.values.push_back(e.validation_loss);
  }
  // Accuracy and loss have different ranges; two stacked charts in one file keep both readable.
  const std::string top = LineChartSvg("Accuracy per epoch", "accuracy", {train_acc, val_acc});
  const std::string bottom = LineChartSvg("Loss per epoch", "loss", {train_loss, val_loss});
  return StackedChartsSvg({top, bottom});
}

std::string ModelCard(const ReportInputs& in) {
  std::string md = fmt::format("# {}\n\n", in.model_name);
  md += fmt::format(
      "Trained by `fovea-train`. Test accuracy **{:.2f}%** on {} images; training wall time {} "
      "({:.0f} s) on {} thread(s).\n\n",
      100.0 * in.test.accuracy, in.test_images, FormatDuration(in.training_seconds), in.training_seconds, in.threads);
  if (in.background_class >= 0) {
    const auto [accuracy, images] =
        in.test.AccuracyExcluding(static_cast<int64_t>(in.labels.size()), in.background_class);
    md += fmt::format(
        "On the {} real classes alone (the {} generated background images left out; a real image predicted as "
        "background counts as wrong): **{:.2f}%** on {} images.\n\n",
        in.labels.size() - 1, in.test_images - images, 100.0 * accuracy, images);
  }
  md += fmt::format(
      "The exported `model.onnx`, run by the Fovea engine, gives the same top-1 class on {}/{} test "
      "images (largest probability difference {:.2g}).\n\n",
      in.engine_same_top1, in.test_images, in.engine_max_difference);
  md += "## Data\n\n";
  md += fmt::format("- training: {} ({} images, {} held out for validation)\n", in.train_data, in.train_images,
                    in.validation_images);
  md += fmt::format("- test: {} ({} images)\n\n", in.test_data, in.test_images);
  md += "## Recipe\n\n";
  md += fmt::format("- architecture: `{}` ({} parameters)\n- {}\n- seed: {}\n\n", in.architecture, in.parameters,
                    in.recipe, in.seed);
  md += fmt::format("Exact command:\n\n```\n{}\n```\n\n", in.command);
  md += "## Per-epoch history\n\n| epoch | train loss | train acc | val loss | val acc | lr | time | img/s |\n";
  md += "| --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto& e : in.history) {
    md += fmt::format("| {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {:.4g} | {:.1f} s | {:.0f} |\n", e.epoch,
                      e.train_loss, e.train_accuracy, e.validation_loss, e.validation_accuracy, e.learning_rate,
                      e.seconds, e.images_per_second);
  }
  md += fmt::format("\n![training curves]({})\n\n## Test accuracy per class\n\n| class | accuracy |\n| --- | --- |\n",
                    kCurvesFile);
  const auto per_class = in.test.PerClassAccuracy(static_cast<int64_t>(in.labels.size()));
  for (size_t c = 0; c < in.labels.size(); ++c) {
    md += fmt::format("| {} | {:.2f}% |\n", in.labels[c], 100.0 * per_class[c]);
  }
  md += fmt::format("\n![confusion matrix]({})\n", kConfusionFile);
  return md;
}

}  // namespace

Status WriteReport(const std::string& directory, const ReportInputs& inputs) {
  FOVEA_RETURN_IF_ERROR(WriteText(directory + "/" + kCurvesFile, CurvesSvg(inputs.history)));
  FOVEA_RETURN_IF_ERROR(
      WriteText(directory + "/" + kConfusionFile, ConfusionMatrixSvg(inputs.test.confusion, inputs.labels)));
  return WriteText(directory + "/MODEL.md", ModelCard(inputs));
}

}  // namespace fovea::trainer
