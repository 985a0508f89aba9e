#include "trainer/engine_check.h"

#include <algorithm>
#include <cmath>

#include "modelio/onnx_import.h"
#include "trainer/loss.h"

namespace fovea::trainer {
namespace {

constexpr int64_t kEngineBatch = 200;

}  // namespace

Status ForEachEngineBatch(const engine::Session& session, const Dataset& dataset, std::span<const int64_t> indices,
                          const Normalization& normalization,
                          const std::function<Status(std::span<const engine::Tensor>, int64_t)>& consume) {
  std::vector<int32_t> labels(kEngineBatch);
  for (size_t start = 0; start < indices.size(); start += kEngineBatch) {
    const auto batch = indices.subspan(start, std::min<size_t>(kEngineBatch, indices.size() - start));
    const auto count = static_cast<int64_t>(batch.size());
    engine::Tensor input(engine::DataType::kFloat32, {count, dataset.channels, dataset.height, dataset.width});
    AssembleBatch(dataset, batch, normalization, nullptr, 0, input.data<float>(), labels.data());
    const engine::Tensor inputs[] = {input};
    FOVEA_ASSIGN_OR_RETURN(auto outputs, session.Run(inputs));
    FOVEA_RETURN_IF_ERROR(consume(outputs, count));
  }
  return OkStatus();
}

StatusOr<std::vector<float>> ClassifyWithEngine(const engine::Session& session, const Dataset& dataset,
                                                const Normalization& normalization) {
  const int64_t classes = dataset.num_classes();
  std::vector<int64_t> indices(static_cast<size_t>(dataset.size()));
  for (int64_t i = 0; i < dataset.size(); ++i) indices[static_cast<size_t>(i)] = i;
  std::vector<float> probabilities;
  // A model that outputs the class scores themselves (torchvision's, and so a model fine-tuned from one) is compared
  // through their softmax, as fovea.v1 serves it.
  const bool scores = !session.model().OutputIsProbability(0);
  FOVEA_RETURN_IF_ERROR(ForEachEngineBatch(
      session, dataset, indices, normalization, [&](std::span<const engine::Tensor> outputs, int64_t count) {
        if (outputs.empty() || outputs[0].num_elements() != count * classes) {
          return Internal(
              "the engine returned " + engine::ShapeToString(outputs.empty() ? engine::Shape{} : outputs[0].shape()) +
              " for a batch of " + std::to_string(count) + " images of " + std::to_string(classes) + " classes");
        }
        const auto values = outputs[0].floats();
        const size_t first = probabilities.size();
        probabilities.insert(probabilities.end(), values.begin(), values.end());
        if (scores) Softmax(values, classes, std::span<float>(probabilities).subspan(first));
        return OkStatus();
      }));
  return probabilities;
}

StatusOr<EngineAgreement> CompareWithEngine(const std::string& onnx_bytes, const Dataset& dataset,
                                            const Normalization& normalization, const EvaluationResult& own) {
  FOVEA_ASSIGN_OR_RETURN(modelio::ImportedModel imported, modelio::ImportOnnx(onnx_bytes));
  EngineAgreement agreement;
  agreement.metadata = imported.metadata;
  FOVEA_ASSIGN_OR_RETURN(auto model, engine::Model::Create(std::move(imported.graph), imported.metadata));
  FOVEA_ASSIGN_OR_RETURN(auto session, engine::Session::Create(model));
  const int64_t classes = dataset.num_classes();
  FOVEA_ASSIGN_OR_RETURN(agreement.probabilities, ClassifyWithEngine(*session, dataset, normalization));
  agreement.images = dataset.size();
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const std::span<const float> row(agreement.probabilities.data() + i * classes, static_cast<size_t>(classes));
    if (ArgMax(row) == own.predictions[static_cast<size_t>(i)]) ++agreement.same_top1;
    for (int64_t k = 0; k < classes; ++k) {
      const double difference =
          std::fabs(row[static_cast<size_t>(k)] - own.probabilities[static_cast<size_t>(i * classes + k)]);
      agreement.max_probability_difference = std::max(agreement.max_probability_difference, difference);
    }
  }
  return agreement;
}

}  // namespace fovea::trainer
