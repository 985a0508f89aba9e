#pragma once
// Class activation mapping (Zhou et al., 2016) for heads of global average pooling and linear layers: since the
// class score is Σ_k w[c,k] · mean(F_k) + b[c] (w the layers composed), the map Σ_k w[c,k] · F_k(y, x) says how much
// each cell of the pooled feature map F contributes to it.

#include <cstdint>
#include <span>

#include "engine/localization/head.h"

namespace fovea::engine::localization {

// Σ_k weights[class, k] · feature[0, k, y, x] for feature [1, channels, h, w] → [h, w] (raw scores, bias excluded:
// it is the same for every cell); feature channel `class_index` when the head has no weights (identity).
// INVALID_ARGUMENT for a class outside the weights or mismatched channels.
StatusOr<Tensor> ClassActivationMap(const Tensor& feature, const LinearHead& head, int64_t class_index);

// Scales a CAM or Grad-CAM map into [0, 1] in place: negatives become 0 (they argue against the class, the ReLU of
// Grad-CAM), then everything is divided by the maximum; an all-non-positive map becomes all zeros.
void NormalizeToUnit(std::span<float> values);

}  // namespace fovea::engine::localization
