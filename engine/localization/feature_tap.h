#pragma once
// FeatureTap: runs a model once on one image and returns, besides its class probabilities, the intermediate tensors
// localization needs (a feature map and every value the backward pass from the logits to it reads). It compiles the
// model's graph with those values added as outputs, so the plan keeps them instead of reusing their memory.
//
// Threading: Run() may be called from many threads at once (engine/session.h).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/localization/backward.h"
#include "engine/localization/head.h"
#include "engine/model.h"
#include "engine/session.h"

namespace fovea::engine::localization {

// The outcome of one tapped run.
struct TappedRun {
  Tensor probabilities;                  // [classes]: the model output, softmax applied when it outputs logits
  Tensor logits;                         // [classes]: the scores before softmax
  std::map<std::string, Tensor> values;  // every tapped value by name, batch of one
};

class FeatureTap {
 public:
  // Taps `target` and the values of every node from it to the logits. `target` names a value of the model's graph or
  // a node (its first output); empty = the head's feature map (the last convolution with spatial extent). A name the
  // graph does not compute, or a value the logits do not depend on, is INVALID_ARGUMENT naming it with candidates.
  static StatusOr<std::unique_ptr<FeatureTap>> Create(std::shared_ptr<const Model> model, const std::string& target);

  const ClassifierHead& head() const { return head_; }
  const std::string& target() const { return target_; }
  // The nodes from target() to head().logits and the forward values their backward reads.
  const BackwardPath& path() const { return path_; }
  const Graph& graph() const { return model_->graph(); }

  // Runs `input` ([1, C, H, W] at the model's input size).
  StatusOr<TappedRun> Run(const Tensor& input) const;

 private:
  FeatureTap() = default;

  std::shared_ptr<const Model> model_;
  std::unique_ptr<Session> session_;  // over the graph with the tapped outputs
  ClassifierHead head_;
  std::string target_;
  BackwardPath path_;
};

// The value a layer name stands for in `graph`: a computed value by that name, else the first output of the node by
// that name; INVALID_ARGUMENT naming it, with candidates (LayerCandidates), otherwise.
StatusOr<std::string> ResolveLayer(const Graph& graph, const std::string& name);
// A few layer names a user could ask for (the last convolutions' outputs), as a phrase for error messages.
std::string LayerCandidates(const Graph& graph);

// Softmax of `logits` (stable: the maximum is subtracted first).
Tensor SoftmaxOf(const Tensor& logits);

}  // namespace fovea::engine::localization
