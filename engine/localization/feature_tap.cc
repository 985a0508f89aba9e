#include "engine/localization/feature_tap.h"

#include <algorithm>
#include <cmath>

namespace fovea::engine::localization {

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
  FOVEA_ASSIGN_OR_RETURN(tap->head_, AnalyzeHead(model->graph()));
  tap->target_ = target.empty() ? tap->head_.feature : target;
  FOVEA_ASSIGN_OR_RETURN(tap->chain_, NodeChain(model->graph(), tap->target_, tap->head_.logits));
  std::vector<std::string> values = {tap->target_, tap->head_.logits};
  for (int node : tap->chain_) values.push_back(model->graph().nodes[static_cast<size_t>(node)].outputs.at(0));
  FOVEA_ASSIGN_OR_RETURN(auto tapped,
                         Model::Create(WithOutputs(model->graph(), values), model->metadata(), {.optimize = false}));
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
