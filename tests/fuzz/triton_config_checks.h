#pragma once
// What both configuration fuzz targets (config.pbtxt text and a load request's JSON) run on a configuration that
// parsed: the server's own checks and the checks against the seed model, whose errors must be INVALID_ARGUMENT.

#include <cstdlib>
#include <vector>

#include "server/models/triton_config.h"

namespace fovea::fuzz {

// Aborts (a finding) when `status` is an error other than INVALID_ARGUMENT.
inline void RequireInvalidArgument(const Status& status) {
  if (!status.ok() && status.code() != StatusCode::kInvalidArgument) std::abort();
}

// ValidateTritonConfig and CheckConfigAgainstModel against the seed model's signature: tiny_classifier.onnx
// (tests/fuzz/make_seeds.py), [N, 1, 8, 8] in, [N, 3] out.
inline void CheckLikeTheServer(const inference::ModelConfig& config) {
  static const std::vector<server::TensorSignature> kInputs = {{"input", inference::TYPE_FP32, {-1, 1, 8, 8}}};
  static const std::vector<server::TensorSignature> kOutputs = {{"scores", inference::TYPE_FP32, {-1, 3}}};
  RequireInvalidArgument(server::ValidateTritonConfig(config, "fuzz"));
  RequireInvalidArgument(server::CheckConfigAgainstModel(config, kInputs, kOutputs));
}

}  // namespace fovea::fuzz
