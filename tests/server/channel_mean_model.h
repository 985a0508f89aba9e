#pragma once
// A real engine model whose scores are easy to predict, for server tests: [N, channels, size, size] →
// GlobalAveragePool → Flatten → [N, channels] logits (Classify applies softmax), so class c scores the mean of
// normalized input channel c. One channel per label; mean/std are the model's normalization.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "server/models/model_repository.h"

namespace fovea::server::testing {

std::shared_ptr<const ServedModel> ChannelMeanModel(const std::string& name, int64_t version,
                                                    const std::vector<std::string>& labels, int64_t size, float mean,
                                                    float std, const std::string& input_name = "pixels",
                                                    const std::string& output_name = "scores");

// Two outputs from [N, channels, size, size] pixels (no normalization): first "map" = Sigmoid(pixels), of the
// input's shape (like a segmentation map), then "scores" = the channel means [N, channels]. Not a classifier: its
// first output holds no class scores.
std::shared_ptr<const ServedModel> MapAndScoresModel(const std::string& name, int64_t channels, int64_t size);

// The channel means as logits ([N, channels], no normalization, no labels) with `properties` as the file's metadata;
// PrepareModel's status when it refuses them.
StatusOr<std::shared_ptr<const ServedModel>> LogitsModel(const std::string& name, int64_t channels, int64_t size,
                                                         std::map<std::string, std::string> properties);

// LogitsModel (input "pixels", output "means") loaded with a model folder's configuration, as the repository poller
// loads one: the configuration's metadata overrides applied, then PrepareModel with it.
StatusOr<std::shared_ptr<const ServedModel>> ConfiguredLogitsModel(const std::string& name, int64_t channels,
                                                                   int64_t size, const ModelFolderConfig& folder);

// ChannelMeanModel followed by a Sigmoid: [N, channels] independent (multi-label) probabilities.
std::shared_ptr<const ServedModel> MultiLabelModel(const std::string& name, int64_t channels, int64_t size);

}  // namespace fovea::server::testing
