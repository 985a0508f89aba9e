#include "engine/gelu_pass.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numbers>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph_patterns.h"
#include "engine/ops/activation.h"

namespace fovea::engine {
namespace {

using ops::BinaryKind;

// Exporters write the constants in float32 or float64 and round them either way.
constexpr double kConstantTolerance = 1e-6;

// What a matched pattern becomes: Gelu(x) writing `output`; `nodes` are replaced.
struct Match {
  std::vector<size_t> nodes;
  std::string x, output;
};

bool IsScalar(const Graph& graph, const std::string& name, double value) {
  const std::optional<double> v = ScalarInitializer(graph, name);
  return v.has_value() && std::abs(*v - value) <= kConstantTolerance * std::abs(value);
}

// The operand of the two-input node that is not `known`, or "" when neither or both are.
std::string OtherOperand(const Node& node, const std::string& known) {
  if (node.inputs[0] == known && node.inputs[1] != known) return node.inputs[1];
  if (node.inputs[1] == known && node.inputs[0] != known) return node.inputs[0];
  return {};
}

// The x of x / √2 or x · (1/√2) computed by the node at `index`.
std::optional<std::string> ScaledInput(const Graph& graph, int index) {
  if (const Node* div = BinaryNode(graph, index, BinaryKind::kDiv)) {
    if (IsScalar(graph, div->inputs[1], std::numbers::sqrt2)) return div->inputs[0];
  }
  if (const Node* mul = BinaryNode(graph, index, BinaryKind::kMul)) {
    for (int i = 0; i < 2; ++i) {
      if (IsScalar(graph, mul->inputs[static_cast<size_t>(1 - i)], 1.0 / std::numbers::sqrt2)) {
        return mul->inputs[static_cast<size_t>(i)];
      }
    }
  }
  return std::nullopt;
}

// The index of the node computing Mul(x, 0.5) into `value`, read only by the pattern, or -1.
int HalfOf(const Graph& graph, const std::string& value, const std::string& x) {
  const int index = graph.ProducerOf(value);
  const Node* mul = BinaryNode(graph, index, BinaryKind::kMul);
  if (mul == nullptr || graph.UseCount(value) != 1) return -1;
  return IsScalar(graph, OtherOperand(*mul, x), 0.5) ? index : -1;
}

// The pattern around the Erf node at `erf_index`, if it is one.
std::optional<Match> MatchGelu(const Graph& graph, size_t erf_index) {
  const Node& erf = graph.nodes[erf_index];
  // Erf has no oneDNN eltwise, so it is no FusedActivation: it is recognized by its op.
  const auto* activation = dynamic_cast<const ops::Activation*>(erf.op.get());
  if (activation == nullptr || activation->params().kind != ops::ActivationKind::kErf || erf.inputs.size() != 1) {
    return std::nullopt;
  }
  const int scale_index = graph.ProducerOf(erf.inputs[0]);
  const std::optional<std::string> x = ScaledInput(graph, scale_index);
  if (!x || graph.UseCount(erf.inputs[0]) != 1) return std::nullopt;
  const int add_index = SoleReader(graph, erf.outputs[0]);
  const Node* add = BinaryNode(graph, add_index, BinaryKind::kAdd);
  if (add == nullptr || !IsScalar(graph, OtherOperand(*add, erf.outputs[0]), 1.0)) return std::nullopt;
  const int product_index = SoleReader(graph, add->outputs[0]);
  const Node* product = BinaryNode(graph, product_index, BinaryKind::kMul);
  if (product == nullptr) return std::nullopt;
  Match match;
  match.x = *x;
  match.nodes = {static_cast<size_t>(scale_index), erf_index, static_cast<size_t>(add_index),
                 static_cast<size_t>(product_index)};
  const std::string other = OtherOperand(*product, add->outputs[0]);
  if (other == *x) {  // x · (1 + erf) first, then · 0.5
    const int half_index = SoleReader(graph, product->outputs[0]);
    const Node* half = BinaryNode(graph, half_index, BinaryKind::kMul);
    if (half == nullptr || !IsScalar(graph, OtherOperand(*half, product->outputs[0]), 0.5)) return std::nullopt;
    match.nodes.push_back(static_cast<size_t>(half_index));
    match.output = half->outputs[0];
  } else {  // (x · 0.5) · (1 + erf)
    const int half_index = HalfOf(graph, other, *x);
    if (half_index < 0) return std::nullopt;
    match.nodes.push_back(static_cast<size_t>(half_index));
    match.output = product->outputs[0];
  }
  if (graph.UseCount(*x) < 2) return std::nullopt;  // x feeds both the scaling and the product
  return match;
}

// Replaces the matched nodes with one Gelu node where the last of them stood.
Status Rewrite(Graph& graph, const Match& match) {
  ops::ActivationParams params;
  params.kind = ops::ActivationKind::kGelu;
  FOVEA_ASSIGN_OR_RETURN(auto op, ops::Activation::Create(params));
  Node fused;
  fused.name = match.output + "/gelu";
  fused.op = std::shared_ptr<const Op>(std::move(op));
  fused.inputs = {match.x};
  fused.outputs = {match.output};
  ReplaceNodes(graph, match.nodes, std::move(fused));
  return OkStatus();
}

}  // namespace

StatusOr<Graph> FuseGeluPattern(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const std::optional<Match> match = MatchGelu(graph, i);
    if (!match) continue;
    FOVEA_RETURN_IF_ERROR(Rewrite(graph, *match));
    // Nodes before the Erf may have gone (the scaling, a first 0.5); rescan from the earliest removed position.
    i = *std::min_element(match->nodes.begin(), match->nodes.end());
    if (i > 0) --i;
  }
  return graph;
}

}  // namespace fovea::engine
