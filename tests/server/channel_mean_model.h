#pragma once
// A real engine model whose scores are easy to predict, for server tests: [N, channels, size, size] →
// GlobalAveragePool → Flatten → [N, channels] logits (the server applies softmax), so class c scores the mean of
// normalized input channel c. One channel per label; mean/std are the model's normalization.

#include <memory>
#include <string>
#include <vector>

#include "server/models/model_repository.h"

namespace fovea::server::testing {

std::shared_ptr<const ServedModel> ChannelMeanModel(const std::string& name, int64_t version,
                                                    const std::vector<std::string>& labels, int64_t size, float mean,
                                                    float std, const std::string& input_name = "pixels",
                                                    const std::string& output_name = "scores");

}  // namespace fovea::server::testing
