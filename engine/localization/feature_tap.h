#pragma once
// FeatureTap: runs a model once on one image and returns, besides its class probabilities, the intermediate tensors
// localization needs (a feature map and every value of the head after it). It compiles the model's graph with those
// values added as outputs, so the plan keeps them instead of reusing their memory.
//
// Threading: Run() may be called from many threads at once (engine/session.h).

#include <map>
#include <memory>
#include <string>
#include <vector>

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
  // Taps `target` (a value of the model's graph; empty = the last convolution's output) and the nodes from it to the
  // logits, which must form a single chain (FAILED_PRECONDITION otherwise).
  static StatusOr<std::unique_ptr<FeatureTap>> Create(std::shared_ptr<const Model> model, const std::string& target);

  const ClassifierHead& head() const { return head_; }
  const std::string& target() const { return target_; }
  // Nodes from target() to head().logits, in order.
  const std::vector<int>& chain() const { return chain_; }
  const Graph& graph() const { return model_->graph(); }

  // Runs `input` ([1, C, H, W] at the model's input size).
  StatusOr<TappedRun> Run(const Tensor& input) const;

 private:
  FeatureTap() = default;

  std::shared_ptr<const Model> model_;
  std::unique_ptr<Session> session_;  // over the graph with the tapped outputs
  ClassifierHead head_;
  std::string target_;
  std::vector<int> chain_;
};

// Softmax of `logits` (stable: the maximum is subtracted first).
Tensor SoftmaxOf(const Tensor& logits);

}  // namespace fovea::engine::localization
