#include "engine/channel_shuffle_pass.h"

#include <algorithm>
#include <optional>
#include <set>

#include "engine/ops/channel_shuffle.h"

namespace fovea::engine {
namespace {

constexpr size_t kGroupedRank = 5;
constexpr size_t kImageRank = 4;
const std::vector<int64_t> kShufflePerm = {0, 2, 1, 3, 4};

// The index of the only node reading `value`, or nullopt when it has other readers or is a graph output.
std::optional<size_t> SoleReader(const Graph& graph, const std::string& value) {
  if (graph.UseCount(value) != 1) return std::nullopt;
  for (const auto& out : graph.outputs) {
    if (out.name == value) return std::nullopt;
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const auto& in : graph.nodes[i].inputs) {
      if (in == value) return i;
    }
  }
  return std::nullopt;
}

// The constant target shape of a Reshape node that does not allow zero-sized dimensions, or nullopt.
std::optional<std::vector<int64_t>> ReshapeTarget(const Graph& graph, const Node& node) {
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return std::nullopt;
  const auto it = graph.initializers.find(node.inputs[1]);
  if (it == graph.initializers.end()) return std::nullopt;
  return node.op->AsReshape(std::span<const Tensor>(&it->second, 1));
}

bool IsBatchEntry(int64_t entry) { return entry >= -1; }

// The three nodes of one channel shuffle and what the fused op needs.
struct Match {
  size_t first, transpose, last;
  ops::ChannelShuffleParams params;
};

std::optional<Match> MatchAt(const Graph& graph, size_t first) {
  const auto grouped = ReshapeTarget(graph, graph.nodes[first]);
  if (!grouped || grouped->size() != kGroupedRank) return std::nullopt;
  const int64_t batch = (*grouped)[0], groups = (*grouped)[1], per_group = (*grouped)[2];
  const int64_t height = (*grouped)[3], width = (*grouped)[4];
  if (!IsBatchEntry(batch) || groups < 1 || per_group < 1 || height < 1 || width < 1) return std::nullopt;
  const auto transpose = SoleReader(graph, graph.nodes[first].outputs[0]);
  if (!transpose) return std::nullopt;
  const Node& t = graph.nodes[*transpose];
  if (t.op->AsPermutation() != kShufflePerm || t.inputs[0] != graph.nodes[first].outputs[0] || t.outputs.size() != 1) {
    return std::nullopt;
  }
  const auto last = SoleReader(graph, t.outputs[0]);
  if (!last || graph.nodes[*last].inputs[0] != t.outputs[0]) return std::nullopt;
  const auto merged = ReshapeTarget(graph, graph.nodes[*last]);
  if (!merged || merged->size() != kImageRank) return std::nullopt;
  const int64_t merged_batch = (*merged)[0];
  const bool batch_agrees = merged_batch == -1 || merged_batch == 0 || (batch > 0 && merged_batch == batch);
  if (!batch_agrees || (*merged)[1] != groups * per_group || (*merged)[2] != height || (*merged)[3] != width) {
    return std::nullopt;
  }
  Match match{first, *transpose, *last, {}};
  match.params.groups = groups;
  match.params.expected_input = {batch > 0 ? batch : -1, groups * per_group, height, width};
  return match;
}

}  // namespace

StatusOr<Graph> FuseChannelShuffle(Graph graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const auto match = MatchAt(graph, i);
    if (!match) continue;
    FOVEA_ASSIGN_OR_RETURN(auto op, ops::ChannelShuffle::Create(match->params));
    Node fused{graph.nodes[match->last].name,
               std::move(op),
               {graph.nodes[i].inputs[0]},
               {graph.nodes[match->last].outputs[0]}};
    const std::set<std::string> shapes = {graph.nodes[i].inputs[1], graph.nodes[match->last].inputs[1]};
    // The fused node takes the first Reshape's place: its input is defined there, and its output is read only after
    // the last Reshape, which comes later.
    graph.nodes[i] = std::move(fused);
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(std::max(match->transpose, match->last)));
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(std::min(match->transpose, match->last)));
    for (const auto& name : shapes) {
      if (graph.UseCount(name) == 0) graph.initializers.erase(name);
    }
  }
  return graph;
}

}  // namespace fovea::engine
