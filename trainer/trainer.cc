#include "trainer/trainer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "trainer/checkpoint.h"
#include "trainer/loss.h"
#include "trainer/progress.h"

namespace fovea::trainer {
namespace {

// Separates the shuffling and augmentation streams of different epochs.
constexpr uint64_t kEpochSalt = 0x5eed0000ULL;
// The batch size the inference network is compiled for (evaluation only; any size gives the same results).
constexpr int64_t kEvaluationBatch = 256;

}  // namespace

StatusOr<std::unique_ptr<Trainer>> Trainer::Create(Network& network, const Dataset& train, const Dataset& validation,
                                                   const TrainOptions& options) {
  if (options.batch_size < 1) return InvalidArgument("batch size must be positive");
  if (options.epochs < 1) return InvalidArgument("epochs must be positive");
  if (train.size() < options.batch_size) {
    return InvalidArgument("the training set has " + std::to_string(train.size()) +
                           " images, fewer than one batch of " + std::to_string(options.batch_size));
  }
  const InputGeometry& in = network.input();
  if (train.channels != in.channels || train.height != in.height || train.width != in.width) {
    return InvalidArgument("training images do not match the network input size");
  }
  for (const auto* values : {&options.normalization.mean, &options.normalization.std}) {
    if (values->size() != 1 && static_cast<int64_t>(values->size()) != in.channels) {
      return InvalidArgument("normalization mean/std need 1 value or one per channel (" + std::to_string(in.channels) +
                             "), got " + std::to_string(values->size()));
    }
  }
  std::unique_ptr<Trainer> trainer(new Trainer(network, train, validation, options));
  FOVEA_ASSIGN_OR_RETURN(trainer->training_, network.Compile(options.batch_size, true));
  FOVEA_ASSIGN_OR_RETURN(trainer->inference_, network.Compile(kEvaluationBatch, false));
  FOVEA_ASSIGN_OR_RETURN(trainer->optimizer_, MakeOptimizer(options.optimizer, network.parameters()));
  FOVEA_ASSIGN_OR_RETURN(Schedule schedule,
                         Schedule::Create(options.schedule, options.epochs * trainer->steps_per_epoch()));
  trainer->schedule_ = std::make_unique<Schedule>(schedule);
  if (options.resume) {
    FOVEA_RETURN_IF_ERROR(LoadCheckpoint(options.checkpoint_path, network, *trainer->optimizer_, trainer->history_));
    spdlog::info("resumed from {} after epoch {}", options.checkpoint_path, trainer->history_.size());
  }
  return trainer;
}

double Trainer::training_seconds() const {
  double total = 0.0;
  for (const auto& e : history_) total += e.seconds;
  return total;
}

EpochRecord Trainer::TrainEpoch(int64_t epoch, ProgressLine& progress) {
  const int64_t batch = options_.batch_size;
  const int64_t steps = steps_per_epoch();
  const int64_t classes = network_.num_classes();
  const uint64_t epoch_seed = MixSeed(options_.seed ^ (kEpochSalt + static_cast<uint64_t>(epoch)));
  const std::vector<int64_t> order = ShuffledIndices(train_.size(), epoch_seed);
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  std::vector<float> diff_logits(static_cast<size_t>(batch * classes));
  const bool augment = options_.augment.crop_padding > 0 || options_.augment.horizontal_flip;
  double loss_sum = 0.0;
  int64_t correct = 0;
  EpochRecord record;
  record.epoch = epoch;
  progress.StartEpoch(epoch, options_.epochs, steps);
  for (int64_t step = 0; step < steps; ++step) {
    const std::span<const int64_t> indices(order.data() + step * batch, static_cast<size_t>(batch));
    AssembleBatch(train_, indices, options_.normalization, augment ? &options_.augment : nullptr, epoch_seed,
                  training_->input(), labels.data());
    const float* logits = training_->Forward();
    const LossResult loss = SoftmaxCrossEntropy({logits, static_cast<size_t>(batch * classes)}, labels, classes,
                                                options_.label_smoothing, diff_logits.data());
    training_->Backward(diff_logits.data());
    const int64_t global_step = (epoch - 1) * steps + step;
    record.learning_rate = schedule_->LearningRate(global_step);
    optimizer_->Step(network_.parameters(), static_cast<float>(record.learning_rate));
    loss_sum += loss.loss;
    correct += loss.correct;
    progress.Update(step + 1, loss_sum / static_cast<double>(step + 1),
                    static_cast<double>(correct) / static_cast<double>((step + 1) * batch), (step + 1) * batch);
  }
  record.seconds = progress.FinishEpoch();
  record.train_loss = loss_sum / static_cast<double>(steps);
  record.train_accuracy = static_cast<double>(correct) / static_cast<double>(steps * batch);
  record.images_per_second = static_cast<double>(steps * batch) / record.seconds;
  return record;
}

Status Trainer::RunUntil(int64_t last_epoch) {
  ProgressLine progress(options_.progress);
  for (auto epoch = static_cast<int64_t>(history_.size()) + 1; epoch <= std::min(last_epoch, options_.epochs);
       ++epoch) {
    EpochRecord record = TrainEpoch(epoch, progress);
    std::string validation_text;
    if (validation_.size() > 0) {
      const EvaluationResult result = Evaluate(*inference_, validation_, options_.normalization);
      record.validation_loss = result.loss;
      record.validation_accuracy = result.accuracy;
      validation_text = fmt::format(" - val_loss {:.4f} - val_acc {:.4f}", result.loss, result.accuracy);
    }
    history_.push_back(record);
    const double remaining = record.seconds * static_cast<double>(options_.epochs - epoch);
    spdlog::info("epoch {}/{} - {} ({:.0f} img/s) - loss {:.4f} - acc {:.4f}{} - lr {:.4g} - ETA {}", epoch,
                 options_.epochs, FormatDuration(record.seconds), record.images_per_second, record.train_loss,
                 record.train_accuracy, validation_text, record.learning_rate, FormatDuration(remaining));
    if (!options_.checkpoint_path.empty()) {
      FOVEA_RETURN_IF_ERROR(SaveCheckpoint(options_.checkpoint_path, network_, *optimizer_, history_));
    }
  }
  return OkStatus();
}

}  // namespace fovea::trainer
