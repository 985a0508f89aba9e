// fovea-train: trains a classifier on oneDNN, evaluates it, exports ONNX with metadata and writes the model card.

#include <omp.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "modelio/onnx_export.h"
#include "trainer/background.h"
#include "trainer/dataset_folder.h"
#include "trainer/dataset_idx.h"
#include "trainer/engine_check.h"
#include "trainer/export.h"
#include "trainer/finetune.h"
#include "trainer/options.h"
#include "trainer/progress.h"
#include "trainer/quantize.h"
#include "trainer/report.h"

namespace fovea::trainer {
namespace {

struct Data {
  Dataset train, validation, test;
};

StatusOr<Data> LoadData(const CommandLine& c) {
  Dataset all_train, test;
  if (c.image_folder.empty()) {
    FOVEA_ASSIGN_OR_RETURN(all_train, LoadFashionMnist(c.data_dir, "train"));
    FOVEA_ASSIGN_OR_RETURN(test, LoadFashionMnist(c.data_dir, "t10k"));
  } else {
    const FolderDatasetOptions folder{c.image_channels, c.image_height, c.image_width};
    FOVEA_ASSIGN_OR_RETURN(all_train, LoadImageFolder(c.image_folder, folder));
    if (!c.test_folder.empty()) {
      FOVEA_ASSIGN_OR_RETURN(test, LoadImageFolder(c.test_folder, folder));
    }
  }
  all_train = LimitPerClass(all_train, c.limit_per_class);
  test = LimitPerClass(test, c.test_limit_per_class);
  if (c.background_class) {
    // Twice as many background images as an average class has, in every split: the class mixes five kinds of
    // window (background.h), each needing enough examples.
    AddBackgroundClass(all_train, 2 * all_train.size() / all_train.num_classes(), c.train.seed);
    if (test.size() > 0) AddBackgroundClass(test, 2 * test.size() / test.num_classes(), c.train.seed + 1);
  }
  FOVEA_ASSIGN_OR_RETURN(Split split, SplitValidation(all_train, c.validation_fraction, c.train.seed));
  if (test.size() == 0) test = split.validation;
  return Data{std::move(split.train), std::move(split.validation), std::move(test)};
}

engine::ModelMetadata BuildMetadata(const CommandLine& c, const Network& network, const Data& data,
                                    const EvaluationResult& test) {
  engine::ModelMetadata m;
  m.labels = data.train.class_names;
  if (c.background_class) m.background_class = static_cast<int64_t>(m.labels.size()) - 1;
  m.input_channels = network.input().channels;
  m.input_height = network.input().height;
  m.input_width = network.input().width;
  m.mean = c.train.normalization.mean;
  m.std = c.train.normalization.std;
  m.properties["fovea.train.data"] = (c.image_folder.empty() ? c.data_dir : c.image_folder) + " (" +
                                     std::to_string(data.train.size()) + " training images)";
  m.properties["fovea.train.architecture"] = network.spec();
  m.properties["fovea.train.recipe"] = RecipeSummary(c.train);
  m.properties["fovea.train.seed"] = std::to_string(c.train.seed);
  m.properties["fovea.train.epochs"] = std::to_string(c.train.epochs);
  m.properties["fovea.train.accuracy"] = fmt::format("{:.4f}", test.accuracy);
  m.properties["fovea.train.command"] = c.command;
  return m;
}

Status WritePredictions(const std::string& path, const Dataset& test, const EvaluationResult& result) {
  std::ofstream out(path, std::ios::trunc);
  out << "test_index,label,predicted,probability\n";
  const int64_t classes = test.num_classes();
  for (int64_t i = 0; i < test.size(); ++i) {
    const auto predicted = result.predictions[static_cast<size_t>(i)];
    out << i << ',' << test.labels[static_cast<size_t>(i)] << ',' << predicted << ','
        << result.probabilities[static_cast<size_t>(i * classes + predicted)] << '\n';
  }
  if (!out) return Internal(path + ": cannot write predictions");
  return OkStatus();
}

// The exported file as the server will run it (modelio import, engine), compared with the trainer's evaluation.
StatusOr<EngineAgreement> CheckExportWithEngine(const std::string& model_path, const Dataset& test,
                                                const CommandLine& c, const EvaluationResult& own) {
  std::ifstream in(model_path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  FOVEA_ASSIGN_OR_RETURN(EngineAgreement agreement, CompareWithEngine(bytes, test, c.train.normalization, own));
  spdlog::info("engine check of {}: same top-1 on {}/{} test images, max probability difference {:.2g}", model_path,
               agreement.same_top1, agreement.images, agreement.max_probability_difference);
  if (agreement.same_top1 != agreement.images) {
    return Internal(model_path + ": the engine disagrees with the trainer on " +
                    std::to_string(agreement.images - agreement.same_top1) + " test images");
  }
  return agreement;
}

// With --from, the source model decides the input geometry and, when it states them, mean and std.
CommandLine AdaptToSource(CommandLine c, const FineTuneSource& source) {
  c.image_channels = source.input.channels;
  c.image_height = source.input.height;
  c.image_width = source.input.width;
  if (!source.metadata.mean.empty()) c.train.normalization.mean = source.metadata.mean;
  if (!source.metadata.std.empty()) c.train.normalization.std = source.metadata.std;
  return c;
}

StatusOr<std::unique_ptr<Network>> CreateNetwork(const CommandLine& c, const Data& data,
                                                 const std::optional<FineTuneSource>& source) {
  const InputGeometry geometry{data.train.channels, data.train.height, data.train.width};
  if (source.has_value()) {
    return Network::CreateOnFrozenBackbone(source->backbone, geometry, data.train.num_classes(), c.train.seed);
  }
  return Network::Create(c.architecture, geometry, data.train.num_classes(), c.train.seed);
}

// A network with the trainer that trained it last, and the epochs of every phase.
struct Trained {
  std::unique_ptr<Network> network;
  std::unique_ptr<Trainer> trainer;
  std::vector<EpochRecord> history;
  double seconds = 0.0;
};

// Fine-tuning's second phase: `source` rebuilt with every layer trainable and the head trained so far, trained
// c.unfreeze_epochs more epochs; `trained` then holds it.
Status TrainUnfrozen(const CommandLine& c, const FineTuneSource& source, const Data& data, Trained& trained) {
  FOVEA_ASSIGN_OR_RETURN(auto whole, UnfrozenNetwork(source, *trained.network, c.backbone_lr_scale, c.train.seed));
  TrainOptions options = c.train;
  options.epochs = c.unfreeze_epochs;
  options.resume = false;
  if (!options.checkpoint_path.empty()) options.checkpoint_path += ".unfrozen";
  spdlog::info(
      "unfrozen: every layer of {} ({} parameters) trains {} more epochs, the backbone at {}x the learning rate",
      whole->spec(), whole->parameters().TrainableCount(), options.epochs, c.backbone_lr_scale);
  FOVEA_ASSIGN_OR_RETURN(auto second, Trainer::Create(*whole, data.train, data.validation, options));
  FOVEA_RETURN_IF_ERROR(second->Run());
  const auto first_phase_epochs = static_cast<int64_t>(trained.history.size());
  for (EpochRecord record : second->history()) {
    record.epoch += first_phase_epochs;
    trained.history.push_back(record);
  }
  trained.seconds += second->training_seconds();
  trained.trainer = std::move(second);  // before the network it trained is replaced
  trained.network = std::move(whole);
  return OkStatus();
}

// Writes model.onnx: the network as trained from scratch, or a fine-tuned source (its final layer replaced after a
// head-only run; rebuilt whole after an unfrozen one) with the source's preprocessing metadata.
Status ExportModel(const CommandLine& c, const std::optional<FineTuneSource>& source, const Network& network,
                   const engine::ModelMetadata& metadata, const std::string& model_path) {
  if (!source.has_value()) return ExportNetwork(network, metadata, model_path);
  engine::ModelMetadata tuned = FineTunedMetadata(*source, metadata.labels, c.train.normalization);
  for (const auto& [key, value] : metadata.properties) tuned.properties[key] = value;
  tuned.properties["fovea.train.source"] = source->path;
  // The architecture is the source's (a spec has no class count), so a fine-tuned model can be fine-tuned again
  // with --unfreeze-epochs; a foreign source has none.
  tuned.properties.erase("fovea.train.architecture");
  const auto architecture = source->metadata.properties.find("fovea.train.architecture");
  if (architecture != source->metadata.properties.end()) tuned.properties.insert(*architecture);
  // After an unfrozen phase every weight changed: the rebuilt network is exported whole.
  if (c.unfreeze_epochs > 0) return ExportNetwork(network, tuned, model_path);
  FOVEA_ASSIGN_OR_RETURN(const std::string bytes, ExportFineTuned(*source, network, tuned));
  return modelio::WriteFileAtomically(model_path, bytes);
}

Status Run(const CommandLine& typed) {
  if (typed.threads > 0) omp_set_num_threads(typed.threads);
  std::filesystem::create_directories(typed.output_dir);
  std::optional<FineTuneSource> source;
  if (!typed.from_model.empty()) {
    FOVEA_ASSIGN_OR_RETURN(source, LoadFineTuneSource(typed.from_model));
    spdlog::info("fine-tuning {}: final layer reads '{}' ({} features) and writes '{}'; backbone frozen", source->path,
                 source->final_layer.features, source->backbone.features, source->final_layer.logits);
  }
  const CommandLine c = source.has_value() ? AdaptToSource(typed, *source) : typed;
  FOVEA_ASSIGN_OR_RETURN(Data data, LoadData(c));
  spdlog::info("data: {} training, {} validation, {} test images of {}x{}x{}", data.train.size(),
               data.validation.size(), data.test.size(), data.train.channels, data.train.height, data.train.width);
  Trained trained;
  FOVEA_ASSIGN_OR_RETURN(trained.network, CreateNetwork(c, data, source));
  spdlog::info("architecture {} with {} trainable parameters; {}", trained.network->spec(),
               trained.network->parameters().TrainableCount(), RecipeSummary(c.train));
  const bool unfrozen = source.has_value() && c.unfreeze_epochs > 0;
  // Refused before any training when the source cannot be rebuilt for the second phase.
  if (unfrozen) {
    FOVEA_RETURN_IF_ERROR(UnfrozenNetwork(*source, *trained.network, c.backbone_lr_scale, c.train.seed).status());
  }
  FOVEA_ASSIGN_OR_RETURN(trained.trainer, Trainer::Create(*trained.network, data.train, data.validation, c.train));
  FOVEA_RETURN_IF_ERROR(trained.trainer->Run());
  trained.history = trained.trainer->history();
  trained.seconds = trained.trainer->training_seconds();
  if (unfrozen) FOVEA_RETURN_IF_ERROR(TrainUnfrozen(c, *source, data, trained));
  const Network& network = *trained.network;

  const EvaluationResult test = Evaluate(trained.trainer->inference_network(), data.test, c.train.normalization);
  const std::string model_path = c.output_dir + "/model.onnx";
  FOVEA_RETURN_IF_ERROR(ExportModel(c, source, network, BuildMetadata(c, network, data, test), model_path));
  FOVEA_ASSIGN_OR_RETURN(const EngineAgreement agreement, CheckExportWithEngine(model_path, data.test, c, test));
  ReportInputs report{
      c.model_name,
      c.command,
      network.spec(),
      RecipeSummary(c.train),
      c.image_folder.empty() ? c.data_dir + " train" : c.image_folder,
      c.image_folder.empty() ? c.data_dir + " t10k" : (c.test_folder.empty() ? "validation split" : c.test_folder),
      data.train.size(),
      data.validation.size(),
      data.test.size(),
      network.parameters().TrainableCount(),
      c.threads > 0 ? c.threads : omp_get_max_threads(),
      c.train.seed,
      trained.seconds,
      data.train.class_names,
      c.background_class ? data.train.num_classes() - 1 : -1,
      trained.history,
      test,
      agreement.same_top1,
      agreement.max_probability_difference};
  FOVEA_RETURN_IF_ERROR(WriteReport(c.output_dir, report));
  if (!c.predictions_path.empty()) FOVEA_RETURN_IF_ERROR(WritePredictions(c.predictions_path, data.test, test));
  spdlog::info("done: test accuracy {:.2f}% (loss {:.4f}) on {} images; training time {} ({:.0f} s)",
               100.0 * test.accuracy, test.loss, data.test.size(), FormatDuration(trained.seconds), trained.seconds);
  spdlog::info("wrote {}, {}/MODEL.md, training_curves.svg, confusion_matrix.svg", model_path, c.output_dir);
  return OkStatus();
}

// `fovea-train quantize ...`: see trainer/quantize.h.
int QuantizeMain(const std::vector<std::string>& args) {
  const auto options = ParseQuantizeCommandLine(args);
  if (!options.ok()) {
    std::fprintf(stderr, "fovea-train quantize: %s\n", options.status().message().c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(QuantizeHelpText().c_str(), stdout);
    return 0;
  }
  const auto report = QuantizeModel(*options);
  if (!report.ok()) {
    spdlog::error("{}", report.status().ToString());
    return 1;
  }
  spdlog::info("wrote {} and {}/MODEL.md", report->model_path, options->output_dir);
  return 0;
}

}  // namespace
}  // namespace fovea::trainer

int main(int argc, char** argv) {
  using namespace fovea::trainer;
  // Progress and summaries go to stderr, like every diagnostic; stdout carries only --help.
  spdlog::set_default_logger(spdlog::stderr_color_mt("fovea-train"));
  spdlog::set_pattern("[%H:%M:%S] %v");
  if (argc > 1 && std::string(argv[1]) == "quantize")
    return QuantizeMain(std::vector<std::string>(argv + 2, argv + argc));
  const auto parsed = ParseCommandLine(std::vector<std::string>(argv, argv + argc));
  if (!parsed.ok()) {
    std::fprintf(stderr, "fovea-train: %s\n", parsed.status().message().c_str());
    return 2;
  }
  if (parsed->help) {
    std::fputs(HelpText().c_str(), stdout);
    return 0;
  }
  const fovea::Status status = Run(*parsed);
  if (!status.ok()) {
    spdlog::error("{}", status.ToString());
    return 1;
  }
  return 0;
}
