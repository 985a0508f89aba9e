#include "engine/model.h"

#include <optional>

#include "engine/ops/activation_params.h"
#include "engine/passes.h"

namespace fovea::engine {

const char* PrecisionName(Precision precision) { return precision == Precision::kBf16 ? "bf16" : "fp32"; }

StatusOr<Precision> ParsePrecision(const std::string& text) {
  if (text == "fp32") return Precision::kFp32;
  if (text == "bf16") return Precision::kBf16;
  return InvalidArgument("precision must be fp32 or bf16, got '" + text + "'");
}

namespace {

// Per graph output: whether a Softmax (not LogSoftmax) or a one-step Sigmoid produces it.
std::vector<bool> ProbabilityOutputs(const Graph& graph) {
  std::vector<bool> probability;
  for (const ValueInfo& output : graph.outputs) {
    const int producer = graph.ProducerOf(output.name);
    bool is_probability = false;
    if (producer >= 0) {
      const Op& op = *graph.nodes[static_cast<size_t>(producer)].op;
      const std::optional<ops::ActivationParams> activation = op.FusedActivation({});
      is_probability = op.IsSoftmax() || (activation.has_value() && activation->kind == ops::ActivationKind::kSigmoid);
    }
    probability.push_back(is_probability);
  }
  return probability;
}

}  // namespace

StatusOr<std::shared_ptr<const Model>> Model::Create(Graph graph, ModelMetadata metadata, ModelOptions options) {
  FOVEA_RETURN_IF_ERROR(ValidateGraph(graph));
  std::vector<bool> probability_outputs = ProbabilityOutputs(graph);
  if (options.optimize) {
    FOVEA_ASSIGN_OR_RETURN(graph, OptimizeForInference(std::move(graph)));
    FOVEA_RETURN_IF_ERROR(ValidateGraph(graph));
  }
  return std::shared_ptr<const Model>(
      new Model(std::move(graph), std::move(metadata), options.precision, std::move(probability_outputs)));
}

Model::Model(Graph graph, ModelMetadata metadata, Precision precision, std::vector<bool> probability_outputs)
    : graph_(std::move(graph)),
      metadata_(std::move(metadata)),
      precision_(precision),
      probability_outputs_(std::move(probability_outputs)) {
  for (const auto& node : graph_.nodes) {
    quantized_ = quantized_ || node.op->AsQuantizationStep().has_value() || node.op->Dequantized().has_value();
  }
}

std::string Model::Label(int64_t index) const {
  if (index >= 0 && static_cast<size_t>(index) < metadata_.labels.size()) {
    return metadata_.labels[static_cast<size_t>(index)];
  }
  return std::to_string(index);
}

}  // namespace fovea::engine
