// ConvTranspose's fusion roles (Op::WithPostOp, Op::AbsorbOutputAffine): what lets the BatchNormalization folding and
// post-op fusion passes treat a decoder's upsampling like a Conv.

#include "engine/ops/conv_transpose.h"

namespace fovea::engine::ops {

std::shared_ptr<const Op> ConvTranspose::WithPostOp(const PostOp& post_op) const {
  if (post_op.kind == PostOp::Kind::kSum && has_sum()) return nullptr;
  // Unlike Conv, a deconvolution cannot split off post-ops oneDNN would mis-fuse; it refuses them instead.
  if (!PostOpsFuse(params_.post_ops, post_op)) return nullptr;
  ConvTransposeParams params = params_;
  params.post_ops.push_back(post_op);
  auto fused = ConvTranspose::Create(params);
  if (!fused.ok()) return nullptr;
  return std::shared_ptr<const Op>(std::move(fused).value());
}

std::optional<std::vector<Tensor>> ConvTranspose::AbsorbOutputAffine(std::span<const Tensor> parameters,
                                                                     const ChannelAffine& affine) const {
  constexpr int64_t kWeightRank = 4;
  if (!params_.post_ops.empty() || parameters.empty() || !parameters[0].has_data()) return std::nullopt;
  const Tensor& w = parameters[0];
  if (w.dtype() != DataType::kFloat32 || w.rank() != kWeightRank || params_.group < 1) return std::nullopt;
  const int64_t in_channels = w.dim(0), per_group = w.dim(1), taps = w.dim(2) * w.dim(3);
  const int64_t m = per_group * params_.group;
  if (in_channels % params_.group != 0 || static_cast<int64_t>(affine.scale.size()) != m) return std::nullopt;
  const bool has_bias = parameters.size() > 1 && parameters[1].has_data();
  if (has_bias && (parameters[1].dtype() != DataType::kFloat32 || parameters[1].num_elements() != m)) {
    return std::nullopt;
  }
  Tensor folded_w = w.Clone();
  const int64_t in_per_group = in_channels / params_.group;
  for (int64_t c = 0; c < in_channels; ++c) {
    const int64_t g = c / in_per_group;
    for (int64_t j = 0; j < per_group; ++j) {
      const double s = affine.scale[static_cast<size_t>(g * per_group + j)];
      float* taps_of = folded_w.data<float>() + (c * per_group + j) * taps;
      for (int64_t t = 0; t < taps; ++t) taps_of[t] = static_cast<float>(taps_of[t] * s);
    }
  }
  Tensor folded_b(DataType::kFloat32, {m});
  for (int64_t k = 0; k < m; ++k) {
    const double bias = has_bias ? parameters[1].data<float>()[k] : 0.0;
    folded_b.data<float>()[k] =
        static_cast<float>(bias * affine.scale[static_cast<size_t>(k)] + affine.shift[static_cast<size_t>(k)]);
  }
  return std::vector<Tensor>{folded_w, folded_b};
}

}  // namespace fovea::engine::ops
