#include "engine/localization/feature_tap.h"

#include <algorithm>
#include <cmath>

namespace fovea::engine::localization {

namespace {

// How many layer names an unknown --layer lists.
constexpr size_t kListedCandidates = 5;

}  // namespace

std::string LayerCandidates(const Graph& graph) {
  std::vector<std::string> names;
  for (size_t i = graph.nodes.size(); i-- > 0 && names.size() < kListedCandidates;) {
    if (graph.nodes[i].op->IsFeatureMapProducer()) names.push_back("'" + graph.nodes[i].outputs.at(0) + "'");
  }
  std::string text = "the last convolution outputs are";
  for (const auto& name : names) text += (name == names.front() ? " " : ", ") + name;
  return names.empty() ? "the model has no convolution" : text;
}

StatusOr<std::string> ResolveLayer(const Graph& graph, const std::string& name) {
  if (graph.ProducerOf(name) >= 0) return name;
  for (const Node& node : graph.nodes) {
    if (node.name == name && !node.outputs.empty()) return node.outputs.front();
  }
  return InvalidArgument("layer '" + name + "' is neither a value computed by the model nor a node of it; " +
                         LayerCandidates(graph));
}

Tensor SoftmaxOf(const Tensor& logits) {
  Tensor out = logits.Clone();
  if (out.num_elements() == 0) return out;
  const float max = *std::max_element(out.floats().begin(), out.floats().end());
  double sum = 0.0;
  for (float& v : out.floats()) sum += (v = std::exp(v - max));
  for (float& v : out.floats()) v = static_cast<float>(v / sum);
  return out;
}

StatusOr<std::unique_ptr<FeatureTap>> FeatureTap::Create(std::shared_ptr<const Model> model,
                                                         const std::string& target) {
  std::unique_ptr<FeatureTap> tap(new FeatureTap());
  const Graph& graph = model->graph();
  FOVEA_ASSIGN_OR_RETURN(tap->head_, AnalyzeHead(graph));
  tap->target_ = tap->head_.feature;
  if (!target.empty()) {
    FOVEA_ASSIGN_OR_RETURN(tap->target_, ResolveLayer(graph, target));
  }
  auto path = FindBackwardPath(graph, tap->target_, tap->head_.logits);
  if (!path.ok() && target.empty()) return path.status();
  if (!path.ok()) {
    return InvalidArgument("layer '" + target + "' cannot be explained: " + path.status().message() + "; " +
                           LayerCandidates(graph));
  }
  tap->path_ = std::move(path).value();
  std::vector<std::string> values = tap->path_.forward_values;
  values.push_back(tap->head_.logits);
  FOVEA_ASSIGN_OR_RETURN(auto tapped,
                         Model::Create(WithOutputs(graph, values), model->metadata(), {.optimize = false}));
  FOVEA_ASSIGN_OR_RETURN(tap->session_, Session::Create(tapped));
  tap->model_ = std::move(tapped);
  return tap;
}

StatusOr<TappedRun> FeatureTap::Run(const Tensor& input) const {
  if (input.rank() != 4 || input.dim(0) != 1) {
    return InvalidArgument("localization takes one image [1, C, H, W], got " + ShapeToString(input.shape()));
  }
  FOVEA_ASSIGN_OR_RETURN(auto outputs, session_->Run(std::span<const Tensor>(&input, 1)));
  TappedRun run;
  const auto& names = model_->graph().outputs;
  for (size_t i = 0; i < names.size(); ++i) run.values[names[i].name] = outputs[i];
  const Tensor& logits = run.values.at(head_.logits);
  FOVEA_ASSIGN_OR_RETURN(run.logits, logits.Reshaped({logits.num_elements()}));
  run.probabilities = SoftmaxOf(run.logits);
  return run;
}

}  // namespace fovea::engine::localization
