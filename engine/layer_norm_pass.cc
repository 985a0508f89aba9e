#include "engine/layer_norm_pass.h"

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph_patterns.h"
#include "engine/ops/layer_norm.h"

namespace fovea::engine {
namespace {

using ops::BinaryKind;

constexpr double kSquareExponent = 2.0;

// What a matched pattern becomes: LayerNormalization(x, scale, bias) writing `output`; `nodes` are replaced.
struct Match {
  std::vector<size_t> nodes;
  std::string x, scale, bias, output;
  int64_t axis = -1;
  float epsilon = 0.0f;
};

// The first normalized axis of a keepdims ReduceMean over trailing axes written as negative numbers (…, −2, −1).
std::optional<int64_t> TrailingMeanAxis(const Graph& graph, int index) {
  if (index < 0) return std::nullopt;
  const Node& node = graph.nodes[static_cast<size_t>(index)];
  std::vector<Tensor> parameters;
  for (size_t i = 1; i < node.inputs.size(); ++i) {
    const Tensor* t = Initializer(graph, node.inputs[i]);
    if (t == nullptr) return std::nullopt;
    parameters.push_back(*t);
  }
  const std::optional<ops::Reduction> reduction = node.op->AsReduction(parameters);
  if (!reduction || reduction->kind != ops::ReduceKind::kMean || !reduction->keepdims) return std::nullopt;
  std::vector<int64_t> axes = reduction->axes;
  std::sort(axes.begin(), axes.end());
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != -static_cast<int64_t>(axes.size() - i)) return std::nullopt;
  }
  if (axes.empty()) return std::nullopt;
  return axes.front();
}

// True when `value` (read by a node at `index`) is d squared: Pow(d, 2) or Mul(d, d).
bool IsSquareOf(const Graph& graph, int index, const std::string& d) {
  if (index < 0) return false;
  const Node& node = graph.nodes[static_cast<size_t>(index)];
  if (BinaryNode(graph, index, BinaryKind::kMul) != nullptr) return node.inputs[0] == d && node.inputs[1] == d;
  return BinaryNode(graph, index, BinaryKind::kPow) != nullptr && node.inputs[0] == d &&
         ScalarInitializer(graph, node.inputs[1]) == kSquareExponent;
}

// An initializer the Mul/Add after the division applies along the normalized axes only (`normalized` of them): one
// element, or exactly `normalized` dimensions after leading 1s, none of them 1 (so they equal x's).
bool IsNormalizedParameter(const Graph& graph, const std::string& name, int64_t normalized) {
  const Tensor* t = Initializer(graph, name);
  if (t == nullptr || t->dtype() != DataType::kFloat32) return false;
  if (t->num_elements() == 1) return true;
  Shape dims = t->shape();
  while (!dims.empty() && dims.front() == 1) dims.erase(dims.begin());
  return static_cast<int64_t>(dims.size()) == normalized &&
         std::none_of(dims.begin(), dims.end(), [](int64_t d) { return d == 1; });
}

// Extends `match` over a following Mul (gamma) or Add (beta) with a normalized-axes initializer; returns the name
// of that parameter or "".
std::string AbsorbNext(const Graph& graph, Match& match, BinaryKind kind) {
  const int reader = SoleReader(graph, match.output);
  const Node* node = BinaryNode(graph, reader, kind);
  if (node == nullptr) return {};
  const std::string& other = node->inputs[0] == match.output ? node->inputs[1] : node->inputs[0];
  if (other == match.output || !IsNormalizedParameter(graph, other, -match.axis)) return {};
  match.nodes.push_back(static_cast<size_t>(reader));
  match.output = node->outputs[0];
  return other;
}

// The pattern ending in the Div node at `div_index` (without gamma and beta), if it is one.
std::optional<Match> MatchNormalization(const Graph& graph, size_t div_index) {
  const Node* div = BinaryNode(graph, static_cast<int>(div_index), BinaryKind::kDiv);
  if (div == nullptr || div->outputs.size() != 1) return std::nullopt;
  const std::string& d = div->inputs[0];
  const int sqrt_index = graph.ProducerOf(div->inputs[1]);
  if (sqrt_index < 0 || graph.UseCount(div->inputs[1]) != 1) return std::nullopt;
  const Node& sqrt = graph.nodes[static_cast<size_t>(sqrt_index)];
  const auto sqrt_activation = sqrt.op->FusedActivation({});
  if (!sqrt_activation || sqrt_activation->kind != ops::ActivationKind::kSqrt || sqrt.inputs.size() != 1 ||
      graph.UseCount(sqrt.inputs[0]) != 1) {
    return std::nullopt;
  }
  const int add_index = graph.ProducerOf(sqrt.inputs[0]);
  const Node* add = BinaryNode(graph, add_index, BinaryKind::kAdd);
  if (add == nullptr) return std::nullopt;
  const bool eps_first = ScalarInitializer(graph, add->inputs[0]).has_value();
  const std::string& v = add->inputs[eps_first ? 1 : 0];
  const auto epsilon = ScalarInitializer(graph, add->inputs[eps_first ? 0 : 1]);
  const int var_index = graph.ProducerOf(v);
  const auto var_axis = TrailingMeanAxis(graph, var_index);
  if (!epsilon || !var_axis || graph.UseCount(v) != 1) return std::nullopt;
  const std::string& squared = graph.nodes[static_cast<size_t>(var_index)].inputs[0];
  const int square_index = graph.ProducerOf(squared);
  if (!IsSquareOf(graph, square_index, d) || graph.UseCount(squared) != 1) return std::nullopt;
  const int sub_index = graph.ProducerOf(d);
  const Node* sub = BinaryNode(graph, sub_index, BinaryKind::kSub);
  const bool square_is_mul = BinaryNode(graph, square_index, BinaryKind::kMul) != nullptr;
  if (sub == nullptr || graph.UseCount(d) != (square_is_mul ? 3 : 2)) return std::nullopt;
  const int mean_index = graph.ProducerOf(sub->inputs[1]);
  if (TrailingMeanAxis(graph, mean_index) != var_axis || graph.UseCount(sub->inputs[1]) != 1 ||
      graph.nodes[static_cast<size_t>(mean_index)].inputs[0] != sub->inputs[0]) {
    return std::nullopt;
  }
  Match match;
  match.nodes = {static_cast<size_t>(mean_index),
                 static_cast<size_t>(sub_index),
                 static_cast<size_t>(square_index),
                 static_cast<size_t>(var_index),
                 static_cast<size_t>(add_index),
                 static_cast<size_t>(sqrt_index),
                 div_index};
  match.x = sub->inputs[0];
  match.output = div->outputs[0];
  match.axis = *var_axis;
  match.epsilon = static_cast<float>(*epsilon);
  return match;
}

// Replaces the matched nodes with one LayerNormalization node where the last of them stood.
Status Rewrite(Graph& graph, const Match& match) {
  ops::LayerNormParams params;
  params.axis = match.axis;
  params.epsilon = match.epsilon;
  FOVEA_ASSIGN_OR_RETURN(auto op, ops::LayerNorm::Create(params));
  Node fused;
  fused.name = match.output + "/layer_norm";
  fused.op = std::shared_ptr<const Op>(std::move(op));
  std::string scale = match.scale;
  if (scale.empty()) {
    // No gamma: a one-element scale of 1, which LayerNormalization applies to every normalized element.
    scale = fused.name + "/unit_scale";
    graph.initializers[scale] = Tensor::FromFloats({1}, std::vector<float>{1.0f});
  }
  fused.inputs = {match.x, scale, match.bias};
  fused.outputs = {match.output};
  ReplaceNodes(graph, match.nodes, std::move(fused));
  return OkStatus();
}

}  // namespace

StatusOr<Graph> FuseLayerNormPattern(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    std::optional<Match> match = MatchNormalization(graph, i);
    if (!match) continue;
    match->scale = AbsorbNext(graph, *match, BinaryKind::kMul);
    if (!match->scale.empty()) match->bias = AbsorbNext(graph, *match, BinaryKind::kAdd);
    FOVEA_RETURN_IF_ERROR(Rewrite(graph, *match));
    // The fused node took the place of the pattern's last node, and the others (all before it) are gone; the Divs
    // before it did not match and still do not, so the scan goes on after it.
    i = *std::max_element(match->nodes.begin(), match->nodes.end()) - (match->nodes.size() - 1);
  }
  return graph;
}

}  // namespace fovea::engine
