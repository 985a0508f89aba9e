#pragma once
// Reverse-mode differentiation of the part of an inference graph between two values, for Grad-CAM: given the gradient
// of a score with respect to value `to` and the forward values of the nodes in between, it returns the gradient with
// respect to value `from`.
//
// The nodes between them may form any graph (residual sums, Concat of branches, squeeze-excitation products). They
// are visited last first; each is differentiated by its op's own Backward (Op::Backward) at its forward values, with
// its constant inputs taken from the graph; views (Flatten, Reshape, Squeeze, Identity) reshape the gradient. Where a
// value feeds several nodes on the way, its gradients add up. Inputs that do not depend on `from` (weights, other
// branches' values) get no gradient. A node whose op has no backward is UNIMPLEMENTED naming the op and the node.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/graph.h"

namespace fovea::engine::localization {

// The nodes through which value `to` depends on value `from`, and what their backward pass reads.
struct BackwardPath {
  std::string from, to;
  std::vector<int> nodes;  // indices into graph.nodes, topological order; each lies on a path from `from` to `to`
  // Every computed value those nodes read or write (`from` and `to` included): the forward values to keep.
  std::vector<std::string> forward_values;
  std::set<std::string> depends_on_from;  // the values among those that are functions of `from`
};

// FAILED_PRECONDITION when `to` does not depend on `from`; an empty path when from == to.
StatusOr<BackwardPath> FindBackwardPath(const Graph& graph, const std::string& from, const std::string& to);

// d(score)/d(path.from) from `diff_to` = d(score)/d(path.to). `forward` holds every value in path.forward_values by
// name (plain layout, batch as run).
StatusOr<Tensor> Backpropagate(const Graph& graph, const BackwardPath& path,
                               const std::map<std::string, Tensor>& forward, Tensor diff_to);

}  // namespace fovea::engine::localization
